"""Pin one model of a tenant overlay to the version an alias resolves to (a reviewable git
diff of its models.yaml entry), or unpin it back to the alias."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitops.edits.models_yaml import ModelsEditError, set_pointer
from gitops.tree.tenant_models import CONFIGMAP, served_declaration
from inference.contracts.model_uri import ModelUri
from inference.contracts.tenant_models import FILE_NAME, ModelEntry, ModelsError
from training.errors import OperationError, UsageError
from training.lifecycle import registry
from training.lifecycle.overlays import TenantOverlay, tenant_overlay

if TYPE_CHECKING:
    from mlflow import MlflowClient


@dataclass(frozen=True)
class PinChange:
    overlay: Path
    model: str
    before: str
    after: str


def _check_renders(overlay: TenantOverlay, expected: ModelUri) -> None:
    from gitops.tree.render import RenderError, render

    # The pinned kubectl lives beside this interpreter in the venv; find it without `make`.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    try:
        objects = render(overlay.path)
    except RenderError as error:
        raise OperationError(f"{overlay.path} no longer renders: {error}") from None
    found = []
    for obj in objects:
        name = str((obj.get("metadata") or {}).get("name", ""))
        if obj.get("kind") != "ConfigMap" or not name.startswith(f"{CONFIGMAP}-"):
            continue
        try:
            entry = served_declaration((obj.get("data") or {}).get(FILE_NAME), None).get(
                expected.name
            )
        except ModelsError:
            continue
        found.append(str(entry.uri) if entry else "")
    if str(expected) not in found:
        raise OperationError(
            f"{overlay.path} renders, but no ConfigMap {CONFIGMAP} declares {expected} "
            f"(found {found})"
        )


def _rewrite(overlay: TenantOverlay, entry: ModelEntry, uri: ModelUri) -> PinChange:
    before = overlay.models_file.read_text(encoding="utf-8")
    try:
        after = set_pointer(before, entry.name, alias=uri.alias, version=uri.version)
    except ModelsEditError as error:
        raise UsageError(f"{overlay.models_file}: {error}") from None
    overlay.models_file.write_text(after, encoding="utf-8")
    try:
        _check_renders(overlay, uri)
    except BaseException:
        overlay.models_file.write_text(before, encoding="utf-8")
        raise
    return PinChange(overlay.path, entry.name, str(entry.uri), str(uri))


def pin(client: MlflowClient, model: str | None, alias: str, overlay_path: Path) -> PinChange:
    """Pin `model` (default: the tenant's only model) to the version `alias` points at."""
    overlay = tenant_overlay(overlay_path)
    entry = overlay.entry(model)
    if entry.rollout:
        raise UsageError(
            f"{overlay.models_file}: {entry.name} rolls out under {entry.rollout}, and a pinned "
            "version cannot roll out (a rollout moves an alias): remove its `rollout:` line in "
            "the same change, and put it back when you unpin"
        )
    version = registry.require_alias(client, entry.name, alias)
    return _rewrite(overlay, entry, ModelUri(entry.name, None, version))


def unpin(
    alias: str, overlay_path: Path, aliases_allowed: tuple[str, ...], model: str | None = None
) -> PinChange:
    """`model` (default: the tenant's only model) follows `alias` again."""
    overlay = tenant_overlay(overlay_path)
    if alias not in aliases_allowed:
        from training.errors import one_of

        raise one_of("alias", alias, list(aliases_allowed))
    entry = overlay.entry(model)
    return _rewrite(overlay, entry, ModelUri(entry.name, alias, None))
