"""Turn a registry version into a ServedModel: download, load, read the signature, self-check.

Downloads land in a temporary folder and are renamed into the cache only once the version
has loaded and passed its check, so a half-downloaded or broken version is never reused.
The download runs in a child process; scikit-learn is imported here meanwhile, so the two
largest start-up costs overlap.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from inference.model import ModelCheckError, ServedModel
from inference.model_folder import import_sklearn, read_model_dir
from inference.registry import Registry


def load_version(
    registry: Registry,
    name: str,
    version: str,
    alias: str | None,
    run_id: str | None,
    cache_dir: Path,
) -> ServedModel:
    """Download (or reuse from cache) and load one version; raise if it must not be served."""
    final = cache_dir / name / version
    if not (final / "MLmodel").exists():
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=final.parent))
        try:
            pending = registry.start_download(name, version, staging)
            try:
                import_sklearn()
            except BaseException:
                pending.cancel()
                raise
            pending.wait()
            model = _build(staging, name, version, alias, run_id)
            shutil.rmtree(final, ignore_errors=True)
            staging.rename(final)
            return model
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    try:
        return _build(final, name, version, alias, run_id)
    except Exception:
        shutil.rmtree(final, ignore_errors=True)
        raise


def _build(
    path: Path, name: str, version: str, alias: str | None, run_id: str | None
) -> ServedModel:
    try:
        estimator, schema, example = read_model_dir(path)
    except ModelCheckError:
        raise
    except Exception as exc:
        raise ModelCheckError(
            f"cannot load {name} v{version}: {type(exc).__name__}: {exc}"
        ) from exc
    model = ServedModel(
        name=name,
        version=version,
        alias=alias,
        estimator=estimator,
        schema=schema,
        input_example=example,
        run_id=run_id,
    )
    model.prepare()
    return model


def prune_cache(cache_dir: Path, name: str, keep: set[str]) -> None:
    """Drop cached versions other than `keep` (the emptyDir has a size limit)."""
    folder = cache_dir / name
    if not folder.is_dir():
        return
    for child in folder.iterdir():
        if child.name not in keep and not child.name.startswith("."):
            shutil.rmtree(child, ignore_errors=True)
