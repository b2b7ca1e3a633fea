"""Where things live in the repository, so no module hard-codes a layout."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CLUSTERS = ("kind", "eks")


def overlays_dir(root: Path = REPO_ROOT) -> Path:
    return root / "overlays"


def tenants_dir(cluster: str, root: Path = REPO_ROOT) -> Path:
    return overlays_dir(root) / cluster / "tenants"


def upstream_manifest(root: Path = REPO_ROOT) -> Path:
    """The pinned upstream files: each set's files, release tags, upstream paths and sums."""
    return root / "upstream-files.yaml"


def upstream_mirror(set_name: str, root: Path = REPO_ROOT) -> Path:
    """The optional offline mirror of one set, beside the repository: ../shared/<set>."""
    return root.parent / "shared" / set_name


def upstream_cache(set_name: str, root: Path = REPO_ROOT) -> Path:
    """Where downloaded pinned upstream files are kept (gitignored)."""
    return root / ".cache" / "upstream" / set_name
