"""Pickle-free tenants: `promote` and `rollout start` refuse to point an alias a pickle-free
tenant follows at a version it would have to unpickle.

A tenant is pickle-free on a cluster when its models.yaml there says `pickleFree: true`
(inference.contracts.tenant_models). Its pods serve only versions whose ONNX model passed
training's equivalence gate, and refuse the others even if an alias points there; refusing
here says so before the alias moves, instead of leaving the pods on the previous version.
The version is judged as the service judges it: its MLmodel's `onnx` flavor and
`metadata.onnx` (inference.models.model_folder.onnx_metadata).
"""

from __future__ import annotations

from pathlib import Path

from inference.models.model_folder import onnx_metadata
from training import output
from training.errors import OperationError
from training.lifecycle.overlays import cluster_tenants
from training.settings import Settings


def pickle_free_declarations(settings: Settings, model: str, alias: str) -> list[Path]:
    """The models.yaml files, on every cluster, of pickle-free tenants serving model@alias."""
    root = settings.overlays_root / "overlays"
    clusters = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    found = []
    for cluster in clusters:
        for overlay in cluster_tenants(cluster, settings.overlays_root):
            declaration = overlay.declaration()
            entry = declaration.get(model)
            if declaration.pickle_free and entry is not None and entry.alias == alias:
                found.append(overlay.models_file)
    return found


def served_without_pickle(model: str, version: str) -> bool:
    """The version carries an ONNX model that passed training's gate."""
    from mlflow.models import get_model_info

    info = get_model_info(f"models:/{model}/{version}")
    return onnx_metadata({"flavors": info.flavors, "metadata": info.metadata}) is not None


def refuse_pickled(settings: Settings, model: str, version: str, alias: str) -> None:
    """OperationError when a pickle-free tenant follows model@alias and the version has no
    passed ONNX model; --force does not cover it (the pods would refuse the version)."""
    declarations = pickle_free_declarations(settings, model, alias)
    if not declarations or served_without_pickle(model, version):
        return
    listed = ", ".join(output.shown_path(path) for path in declarations)
    raise OperationError(
        f"{model} version {version} has no ONNX model that passed training's gate (see its "
        f"onnx_gate tag), and {alias} is followed by pickle-free tenants ({listed}: "
        "pickleFree: true), whose pods never unpickle and would refuse it. Promote a version "
        "whose ONNX gate passed, or remove pickleFree from those models.yaml files"
    )
