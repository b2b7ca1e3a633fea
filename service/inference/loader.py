"""Turn a registry version into a ServedModel: download, load, read the signature, self-check.

Downloads land in a temporary folder and are renamed into the cache only once the version
has loaded and passed its check, so a half-downloaded or broken version is never reused.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from inference.model import ModelCheckError, ServedModel
from inference.registry import Registry
from inference.schema import InputSchema


def _plain(value: Any) -> Any:
    """numpy scalars -> Python values, so rows look like what a JSON client sends."""
    return value.item() if hasattr(value, "item") else value


def read_model_dir(path: Path) -> tuple[Any, InputSchema, list[list[Any]]]:
    """Load estimator, input schema and input example from a downloaded MLflow model folder."""
    import mlflow.sklearn
    from mlflow.models import Model

    meta = Model.load(str(path / "MLmodel"))
    if "sklearn" not in meta.flavors:
        raise ModelCheckError(f"not a scikit-learn model (flavors: {sorted(meta.flavors)})")
    if meta.signature is None:
        raise ModelCheckError("the model has no signature: log it with one")
    try:
        schema = InputSchema.from_signature_inputs(meta.signature.inputs.to_dict())
    except ValueError as exc:
        raise ModelCheckError(str(exc)) from exc
    example = meta.load_input_example(str(path))
    if example is None:
        raise ModelCheckError("the model has no input example: log it with one")
    if hasattr(example, "columns"):  # a DataFrame, the usual case for column signatures
        missing = [n for n in schema.names if n not in example.columns]
        if missing:
            raise ModelCheckError(f"input example lacks signature columns {missing}")
        rows = [[_plain(v) for v in row] for row in example[schema.names].itertuples(index=False)]
    else:
        rows = [[_plain(v) for v in row] for row in example]
    estimator = mlflow.sklearn.load_model(str(path))
    return estimator, schema, rows


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
            registry.download(name, version, staging)
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
