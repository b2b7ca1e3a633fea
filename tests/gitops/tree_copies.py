"""Helpers of the manifest validation tests: copies of the real tree, YAML edits that plant a
fault, the findings of one check."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from gitops import paths
from gitops.checks import REGISTRY
from gitops.validate import CHECKS, Report

# The checks that hold for any Argo CD + Kustomize tree, which the small fixtures/good-repo
# exercises. The registered checks (gitops/checks/) model this platform itself (its network
# paths, charts, bootstrap scripts, images), so their faults are planted in copies of the
# real tree instead.
GENERIC_CHECKS = tuple(c for c in CHECKS if c not in REGISTRY)


# What validation reads besides the manifests: the CI image matrix and workflows, the pins
# the `images` check compares, the tenants catalog.
REAL_TREE_FILES = (
    ".github",
    "Makefile",
    "pyproject.toml",
    "renovate.json5",
    "service/Dockerfile",
    "service/requirements.txt",
    "training/tenants.yaml",
    "training/rollout",  # the judge image's build context (the bootstrap builds it)
)


def copy_real_tree(target: Path) -> Path:
    """The manifest folders of this repository and the files validation reads, in `target`."""
    for top in ("base", "overlays", "apps", "clusters"):
        if (paths.REPO_ROOT / top).is_dir():
            shutil.copytree(paths.REPO_ROOT / top, target / top)
    for rel in REAL_TREE_FILES:
        source = paths.REPO_ROOT / rel
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target / rel)
        elif source.is_file():
            shutil.copy2(source, target / rel)
    return target


def edit_yaml(path: Path, change: Callable[[list[dict[str, Any]]], None]) -> None:
    """Load every document of `path`, let `change` mutate them, write them back."""
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    change(docs)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")


def problems(report: Report, check: str) -> str:
    return "\n".join(str(f) for f in report.by_check(check))
