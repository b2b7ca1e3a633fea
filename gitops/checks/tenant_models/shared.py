"""What the rules of the `tenant-models` check share: its name, and the objects of a tenant
namespace as the cluster's Applications deploy them (the kit's and the workload's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitops import paths
from gitops.tree.app_tree import App, ClusterTree
from gitops.tree.findings import name_of, namespace_of

CHECK = "tenant-models"


def tenant_objects(tree: ClusterTree, tenant: str) -> tuple[App | None, list[dict[str, Any]]]:
    """The Application deploying the tenant's folder, and every object of the tenant's
    namespace (each once) across the cluster's Applications."""
    wanted = f"{paths.tenants_dir(tree.cluster, Path()).as_posix()}/{tenant}"
    app = next((a for a in tree.apps if wanted in a.source_paths), None)
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for each in tree.apps:
        for obj in each.objects:
            if namespace_of(obj) == tenant:
                seen.setdefault((str(obj.get("kind")), name_of(obj)), obj)
    return app, list(seen.values())
