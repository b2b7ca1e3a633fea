"""The clusters and tenants of a tree: a cluster is a folder of clusters/ (or of overlays/, for
a tree without its entry point yet), a tenant a folder of overlays/<cluster>/tenants/."""

from __future__ import annotations

from pathlib import Path

from gitops import paths
from gitops.tree.kustomizations import is_kustomization


def tenant_namespaces(repo_root: Path, cluster: str) -> frozenset[str]:
    """Tenants of a cluster: the folders of overlays/<cluster>/tenants/ (namespace == folder)."""
    folder = paths.tenants_dir(cluster, repo_root)
    if not folder.is_dir():
        return frozenset()
    return frozenset(p.name for p in folder.iterdir() if p.is_dir() and is_kustomization(p))


def clusters(root: Path) -> list[str]:
    """Clusters with an entry folder, plus any known cluster that has overlays but no entry
    (reported as missing by the tree builder)."""
    present = {p.name for p in (root / "clusters").iterdir() if p.is_dir()}
    expected = {c for c in paths.CLUSTERS if (root / "overlays" / c).is_dir()}
    return sorted(present | expected)


def loose_tenants(root: Path) -> dict[str, frozenset[str]]:
    """Tenant folders of clusters that have no entry point yet (fixtures, partial trees)."""
    overlays = root / "overlays"
    if not overlays.is_dir():
        return {}
    return {c.name: tenant_namespaces(root, c.name) for c in overlays.iterdir() if c.is_dir()}
