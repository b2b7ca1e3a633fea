"""Where things live in the repository, so no module hard-codes a layout."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CLUSTERS = ("kind", "eks")


def overlays_dir(root: Path = REPO_ROOT) -> Path:
    return root / "overlays"


def tenants_dir(cluster: str, root: Path = REPO_ROOT) -> Path:
    return overlays_dir(root) / cluster / "tenants"


def crds_dir(root: Path = REPO_ROOT) -> Path:
    """Pinned upstream CRDs; the repo expects them beside it in ../shared/crds (see README)."""
    return root.parent / "shared" / "crds"
