"""Tenant overlays: overlays/<cluster>/tenants/<tenant>/ with a kustomization.yaml and model.env.

Read here (model.env's variables as gitops/tree/tenants.py reads them); edited by gitops/edits
(model_env.py), where every overlay edit lives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitops.edits.model_env import MODEL_URI_KEY
from gitops.tree.tenants import read_model_env
from inference.contracts.model_uri import ModelUri, ModelUriError
from training.errors import UsageError
from training.settings import REPO_ROOT


@dataclass(frozen=True)
class TenantOverlay:
    path: Path

    @property
    def tenant(self) -> str:
        return self.path.name

    @property
    def model_env(self) -> Path:
        return self.path / "model.env"

    def env(self) -> dict[str, str]:
        return read_model_env(self.model_env)

    def model_uri(self) -> ModelUri:
        env = self.env()
        if MODEL_URI_KEY not in env:
            raise UsageError(f"{self.model_env}: no {MODEL_URI_KEY}= line")
        try:
            return ModelUri.parse(env[MODEL_URI_KEY])
        except ModelUriError as error:
            raise UsageError(f"{self.model_env}: {MODEL_URI_KEY}: {error}") from None


def tenant_overlay(path: Path) -> TenantOverlay:
    """The overlay at `path`, refusing anything that is not a tenant folder."""
    path = path.resolve()
    if not path.is_dir():
        raise UsageError(f"--overlay {path}: not a directory")
    if path.parent.name != "tenants":
        raise UsageError(
            f"--overlay {path}: expected a tenant folder overlays/<cluster>/tenants/<tenant>"
        )
    missing = [n for n in ("kustomization.yaml", "model.env") if not (path / n).is_file()]
    if missing:
        raise UsageError(f"--overlay {path}: not a tenant overlay, missing {', '.join(missing)}")
    return TenantOverlay(path)


def cluster_tenants(cluster: str, root: Path = REPO_ROOT) -> list[TenantOverlay]:
    """Every tenant overlay of a cluster, as tools discover them: folders with a kustomization."""
    tenants = root / "overlays" / cluster / "tenants"
    if not tenants.is_dir():
        return []
    return [
        TenantOverlay(folder)
        for folder in sorted(tenants.iterdir())
        if (folder / "kustomization.yaml").is_file() and (folder / "model.env").is_file()
    ]
