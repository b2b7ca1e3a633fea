"""The `tenant-models` rules on the files: every tenant folder declares its models in a
models.yaml the contract parser reads, and no name is declared by two tenants."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from gitops import paths
from gitops.checks.tenant_models.shared import CHECK
from gitops.tree.findings import Finding
from gitops.tree.tenant_models import declarations, models_file
from inference.contracts.tenant_models import ModelsError


def declaration_findings(root: Path) -> Iterator[Finding]:
    owners: dict[str, set[str]] = {}  # model -> the tenants declaring it
    where: dict[str, list[str]] = {}  # model -> the files declaring it
    clusters = sorted(p.parent.name for p in paths.overlays_dir(root).glob("*/tenants"))
    for cluster in clusters:
        for tenant, declaration in declarations(root, cluster).items():
            path = models_file(paths.tenants_dir(cluster, root) / tenant).relative_to(root)
            if isinstance(declaration, ModelsError):
                yield Finding(
                    CHECK,
                    path.as_posix(),
                    "",
                    str(declaration),
                    f"a TenantModels declaration of {tenant}'s models (docs/models.md)",
                )
                continue
            for name in declaration.names:
                owners.setdefault(name, set()).add(tenant)
                where.setdefault(name, []).append(path.as_posix())
    for name, tenants in sorted(owners.items()):
        if len(tenants) > 1:
            yield Finding(
                CHECK,
                ", ".join(sorted(set(where[name]))),
                "",
                f"{name} is declared by {len(tenants)} tenants ({', '.join(sorted(tenants))}): "
                "a registered model belongs to one tenant, whose credentials read it",
                "each model name declared by one tenant only",
            )
