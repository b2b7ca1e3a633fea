"""Turn a registry version into a ServedModel: download, load, read the signature, self-check.

Downloads land in a temporary folder and are renamed into the cache only once the version
has loaded and passed its check, so a half-downloaded or broken version is never reused.
Behind MLflow's artifact proxy, MLmodel comes first: it says which runtime serves the version
(ONNX when it passed training's gate, else scikit-learn), and that runtime is imported while
its files download. Elsewhere, a child process downloads with MLflow's client.

Before any file is loaded, the policy (models/load_policy.py) is applied: the version's file
digests, recorded at registration in the registry's database, are read first and every file
downloaded or reused from the cache is checked against them; a pickle-free tenant is never
given a version without a passed ONNX model; size, file count and the time loading and the
self-check take are bounded. The checks run here, at load, never on a request.

Downloads may run side by side; building a version in memory holds `build_lock`, the swap lock
all of a service's models share, so one version is built at a time (what memory_needed in
contracts/tenant_models.py budgets for) and what building it cost can be measured
(models/memory.py).
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import tempfile
import threading
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from inference.models.load_policy import (
    LimitError,
    LoadPolicy,
    check_size,
    recorded_digests,
    too_large,
    verify_files,
)
from inference.models.memory import (
    growth,
    import_quietly,
    pickle_modules,
    resident_bytes,
    settle,
)
from inference.models.model import ModelCheckError, ServedModel
from inference.models.model_folder import (
    PICKLE_FREE,
    chosen_runtime,
    drift_reference_file,
    load_estimator,
    needed_files,
    onnx_metadata,
    read_input_example,
    read_mlmodel,
    read_schema,
    sklearn_flavor,
)
from inference.models.onnx_model import OnnxModel, OnnxSpec, warm_up
from inference.models.registry import FileTooLarge, Registry, RegistryError
from inference.models.sklearn_model import SklearnModel
from inference.models.version_drift import read_version_drift

# What each runtime imports first (the largest part of loading it).
_RUNTIME_MODULES = {"onnx": "onnxruntime", "sklearn": "sklearn.base"}


def load_version(
    registry: Registry | None,
    name: str,
    version: str,
    alias: str | None,
    run_id: str | None,
    cache_dir: Path,
    runtime: str = "auto",
    build_lock: AbstractContextManager[object] | None = None,
    policy: LoadPolicy | None = None,
) -> ServedModel:
    """Download (or reuse from cache) and load one version; raise if it must not be served.
    The version's `memory_bytes` is what building it added to the process."""
    policy = policy or LoadPolicy()
    what = f"{name} v{version}"
    if policy.pickle_free:
        runtime = PICKLE_FREE  # chosen_runtime refuses a version without a passed ONNX model
    # No registry: a folder already in the cache, checked as it is (training's service_check).
    tags = registry.version_tags(name, version) if registry is not None else {}
    digests = recorded_digests(tags, policy, what)
    final = cache_dir / name / version
    hung = _ABANDONED.get(final)
    if hung is not None and hung.is_alive():
        # The reloader retries with backoff: without this, every attempt would leave one
        # more thread hanging. Refused before any download while the first still runs.
        raise LimitError(
            f"cannot load {what}: an earlier load of it did not finish within "
            f"MODEL_CHECK_TIMEOUT_SECONDS={policy.check_timeout_seconds:g} and still runs; "
            "refused without another try until it ends"
        )
    lock = build_lock if build_lock is not None else nullcontext()
    if not (final / "MLmodel").exists():
        assert registry is not None, f"{final} holds no model and there is no registry"
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=final.parent))
        try:
            _download(registry, name, version, staging, runtime, digests, policy)
            check_size(staging, policy, what)
            verify_files(staging, digests, what, "downloaded")
            with lock:
                model = _build_within(final, staging, name, version, alias, run_id, runtime, policy)
            shutil.rmtree(final, ignore_errors=True)
            staging.rename(final)
            return model
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    try:
        check_size(final, policy, what)
        verify_files(final, digests, what, "cached")
        with lock:
            return _build_within(final, final, name, version, alias, run_id, runtime, policy)
    except Exception:
        shutil.rmtree(final, ignore_errors=True)
        raise


def _download(
    registry: Registry,
    name: str,
    version: str,
    staging: Path,
    runtime: str,
    digests: dict[str, str] | None,
    policy: LoadPolicy,
) -> None:
    location = registry.proxied_location(name, version)
    if location is None:
        registry.start_download(name, version, staging).wait()
        return
    what = f"{name} v{version}"
    budget = _Budget(policy)
    try:
        budget.take(registry.download_file(location, "MLmodel", staging, budget.left))
        # MLmodel decides which runtime and which files: it is checked before it is read.
        verify_files(staging, digests, what, "downloaded")
        meta = read_mlmodel(staging)
        try:
            chosen = chosen_runtime(meta, runtime)
        except ModelCheckError as exc:  # before the model file is downloaded
            raise ModelCheckError(f"{what}: {exc}") from None
        importer = threading.Thread(
            target=importlib.import_module, args=(_RUNTIME_MODULES[chosen],), daemon=True
        )
        importer.start()
        try:
            for relative in needed_files(meta, chosen):
                budget.take(registry.download_file(location, relative, staging, budget.left))
            reference = drift_reference_file(meta)
            if reference:
                # Drift monitoring must not keep a version from serving: a missing reference
                # is reported by /model/info instead (read_version_drift).
                try:
                    budget.take(registry.download_file(location, reference, staging, budget.left))
                except FileTooLarge:
                    raise
                except RegistryError:
                    pass
        finally:
            importer.join()
    except FileTooLarge as exc:
        raise LimitError(too_large(what, budget.used + exc.written, policy)) from None


class _Budget:
    """The bytes a version's downloads may still take (MODEL_MAX_BYTES)."""

    def __init__(self, policy: LoadPolicy) -> None:
        self.policy, self.used = policy, 0

    @property
    def left(self) -> int:
        return self.policy.max_bytes - self.used

    def take(self, size: int) -> None:
        self.used += size


# Loads abandoned after MODEL_CHECK_TIMEOUT_SECONDS, by the version's cache folder: each
# thread may still run.
_ABANDONED: dict[Path, threading.Thread] = {}


def _build_within(
    final: Path,
    path: Path,
    name: str,
    version: str,
    alias: str | None,
    run_id: str | None,
    runtime: str,
    policy: LoadPolicy,
) -> ServedModel:
    """_build in a worker thread, refused when it takes longer than the policy allows. A
    thread cannot be stopped: a hung load is abandoned (recorded under `final`, the version's
    cache folder), and the service keeps serving."""
    outcome: dict[str, object] = {}

    def build() -> None:
        try:
            outcome["model"] = _build(path, name, version, alias, run_id, runtime)
        except BaseException as exc:  # handed to the caller's thread as it is
            outcome["error"] = exc

    worker = threading.Thread(target=build, name=f"load {name} v{version}", daemon=True)
    worker.start()
    worker.join(policy.check_timeout_seconds)
    if worker.is_alive():
        _ABANDONED[final] = worker
        raise LimitError(
            f"cannot load {name} v{version}: loading it and its self-check did not finish "
            f"within MODEL_CHECK_TIMEOUT_SECONDS={policy.check_timeout_seconds:g}; refused"
        )
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["model"]  # type: ignore[return-value]


def _build(
    path: Path, name: str, version: str, alias: str | None, run_id: str | None, runtime: str
) -> ServedModel:
    try:
        meta = read_mlmodel(path)
        schema = read_schema(meta)
        example = read_input_example(path, meta, schema)
        chosen = chosen_runtime(meta, runtime)
        _import_before_measuring(path, meta, chosen)
        settle()
        before = resident_bytes()
        model: ServedModel
        if chosen == "onnx":
            found = onnx_metadata(meta)
            assert found is not None
            spec = OnnxSpec.from_metadata(path, *found)
            model = OnnxModel(name, version, alias, schema, example, run_id, spec=spec)
        else:
            estimator = load_estimator(path, sklearn_flavor(meta))
            model = SklearnModel(name, version, alias, schema, example, run_id, estimator=estimator)
    except ModelCheckError as exc:
        raise ModelCheckError(f"cannot load {name} v{version}: {exc}") from exc
    except Exception as exc:
        raise ModelCheckError(
            f"cannot load {name} v{version}: {type(exc).__name__}: {exc}"
        ) from exc
    try:
        model.prepare()
    except ModelCheckError as exc:
        raise ModelCheckError(f"{name} v{version}: {exc}") from exc
    model.drift = read_version_drift(path, drift_reference_file(meta))
    model.memory_bytes = growth(before, resident_bytes())
    return model


def _import_before_measuring(path: Path, meta: dict, runtime: str) -> None:
    """What a process sets up once, whichever version comes first: the runtime (imported, and
    onnxruntime's first session), and the modules a pickle names. Counted in the service's
    base, not in the version's cost."""
    importlib.import_module(_RUNTIME_MODULES[runtime])
    if runtime == "onnx":
        with contextlib.suppress(Exception):  # a broken runtime fails the load itself
            warm_up()
    if runtime == "sklearn":
        flavor = sklearn_flavor(meta)
        pickled = path / str(flavor.get("pickled_model", "model.pkl"))
        if flavor.get("serialization_format", "cloudpickle") != "skops" and pickled.is_file():
            # Unreadable opcodes are the load's error to report, not this step's.
            with contextlib.suppress(Exception):
                import_quietly(pickle_modules(pickled))


def prune_cache(cache_dir: Path, name: str, keep: set[str]) -> None:
    """Drop cached versions other than `keep` (the emptyDir has a size limit)."""
    folder = cache_dir / name
    if not folder.is_dir():
        return
    for child in folder.iterdir():
        if child.name not in keep and not child.name.startswith("."):
            shutil.rmtree(child, ignore_errors=True)
