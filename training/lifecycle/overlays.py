"""Tenant overlays: overlays/<cluster>/tenants/<tenant>/ with a kustomization.yaml and the
models.yaml that declares what the tenant serves on that cluster (docs/models.md).

Read here with the one parser of models.yaml (inference.contracts.tenant_models, through
gitops/tree/tenant_models.py); edited by gitops/edits (models_yaml.py), where every overlay
edit lives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitops.tree.tenant_models import models_file, read_declaration
from inference.contracts.model_uri import ModelUri
from inference.contracts.tenant_models import ModelEntry, ModelsError, TenantModels
from training.errors import UsageError
from training.settings import REPO_ROOT

KUSTOMIZATION = "kustomization.yaml"


@dataclass(frozen=True)
class TenantOverlay:
    path: Path

    @property
    def tenant(self) -> str:
        return self.path.name

    @property
    def models_file(self) -> Path:
        return models_file(self.path)

    def declaration(self) -> TenantModels:
        """The tenant's models on this cluster; a file the contract refuses is bad input."""
        try:
            return read_declaration(self.path)
        except ModelsError as error:
            raise UsageError(f"{self.models_file}: {error}") from None

    def entry(self, model: str | None) -> ModelEntry:
        """The declared model `model`, or the tenant's only model when `model` is None; an
        unknown name, or no name for a tenant with several, lists the declared ones."""
        declaration = self.declaration()
        names = ", ".join(declaration.names)
        if model is None:
            if len(declaration.models) == 1:
                return declaration.models[0]
            raise UsageError(
                f"{self.models_file}: {self.tenant} declares several models ({names}); "
                "name one with --model"
            )
        entry = declaration.get(model)
        if entry is None:
            raise UsageError(
                f"--model {model}: {self.models_file} does not declare it (it declares {names})"
            )
        return entry

    def model_uri(self) -> ModelUri:
        """What the tenant's only model follows (models:/<name>@<alias> or /<version>)."""
        return self.entry(None).uri


def tenant_overlay(path: Path) -> TenantOverlay:
    """The overlay at `path`, refusing anything that is not a tenant folder."""
    path = path.resolve()
    if not path.is_dir():
        raise UsageError(f"--overlay {path}: not a directory")
    if path.parent.name != "tenants":
        raise UsageError(
            f"--overlay {path}: expected a tenant folder overlays/<cluster>/tenants/<tenant>"
        )
    needed = (KUSTOMIZATION, models_file(path).name)
    missing = [n for n in needed if not (path / n).is_file()]
    if missing:
        raise UsageError(f"--overlay {path}: not a tenant overlay, missing {', '.join(missing)}")
    return TenantOverlay(path)


def cluster_tenants(cluster: str, root: Path = REPO_ROOT) -> list[TenantOverlay]:
    """Every tenant overlay of a cluster, as tools discover them: folders with a kustomization
    and a models.yaml."""
    tenants = root / "overlays" / cluster / "tenants"
    if not tenants.is_dir():
        return []
    return [
        TenantOverlay(folder)
        for folder in sorted(tenants.iterdir())
        if (folder / KUSTOMIZATION).is_file() and models_file(folder).is_file()
    ]
