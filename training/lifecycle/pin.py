"""Pin a tenant overlay to the version an alias resolves to (a reviewable git diff), or unpin it."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitops.edits.model_env import ModelEnvError, with_model_uri
from inference.contracts.model_uri import ModelUri
from training.errors import OperationError, UsageError
from training.lifecycle import registry
from training.lifecycle.overlays import TenantOverlay, tenant_overlay

if TYPE_CHECKING:
    from mlflow import MlflowClient


@dataclass(frozen=True)
class PinChange:
    overlay: Path
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
    found = [
        obj.get("data", {}).get("MODEL_URI")
        for obj in objects
        if obj.get("kind") == "ConfigMap" and "MODEL_URI" in obj.get("data", {})
    ]
    if str(expected) not in found:
        raise OperationError(
            f"{overlay.path} renders, but no ConfigMap carries MODEL_URI={expected} (found {found})"
        )


def _rewrite(overlay: TenantOverlay, uri: ModelUri) -> PinChange:
    before = overlay.model_env.read_text()
    old = overlay.model_uri()
    try:
        overlay.model_env.write_text(with_model_uri(before, str(uri)))
    except ModelEnvError as error:
        raise UsageError(f"{overlay.model_env}: {error}") from None
    try:
        _check_renders(overlay, uri)
    except BaseException:
        overlay.model_env.write_text(before)
        raise
    return PinChange(overlay.path, str(old), str(uri))


def pin(client: MlflowClient, model: str, alias: str, overlay_path: Path) -> PinChange:
    overlay = tenant_overlay(overlay_path)
    current = overlay.model_uri()
    if current.name != model:
        raise UsageError(
            f"--model {model}: the overlay {overlay.path} serves {current.name}, not {model}"
        )
    version = registry.require_alias(client, model, alias)
    return _rewrite(overlay, ModelUri(model, None, version))


def unpin(alias: str, overlay_path: Path, aliases_allowed: tuple[str, ...]) -> PinChange:
    overlay = tenant_overlay(overlay_path)
    if alias not in aliases_allowed:
        from training.errors import one_of

        raise one_of("alias", alias, list(aliases_allowed))
    current = overlay.model_uri()
    return _rewrite(overlay, ModelUri(current.name, alias, None))
