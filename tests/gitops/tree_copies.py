"""Helpers of the manifest validation tests: copies of the real tree, YAML edits that plant a
fault, validation of fixtures/good-repo, the findings of one check."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from gitops import paths
from gitops.checks import load_all
from gitops.validate import Report, validate_repo

# The checks that hold for any Argo CD + Kustomize tree (registered with generic=True),
# which the small fixtures/good-repo exercises. The others model this platform itself (its
# network paths, charts, bootstrap scripts, images), so their faults are planted in copies
# of the real tree instead.
GENERIC_CHECKS = tuple(name for name, check in load_all().items() if check.generic)
# The generic checks but checkov (a run of its own costs seconds): what `validate` runs.
FAST = [c for c in GENERIC_CHECKS if c != "checkov"]
# In fixtures/good-repo: a tenant folder and the Deployment its workload base holds.
TENANT = Path("overlays/kind/tenants/tenant-a")
DEPLOYMENT = Path("base/inference/deployment.yaml")


# What validation reads besides the manifests: the CI image matrix and workflows, the pins
# the `images` check compares, the tenants catalog.
REAL_TREE_FILES = (
    ".github",
    "Makefile",
    "pyproject.toml",
    "renovate.json5",
    "service/Dockerfile",
    "service/requirements.txt",
    "service/requirements-slim.txt",  # the slim image's build input (the EKS tenants run it)
    "training/tenants.yaml",
    "training/examples/examples.yaml",  # the team models the bootstrap's seed-examples registers
    "training/rollout",  # the judge image's build context (the bootstrap builds it)
    "upstream-files.yaml",  # the pinned upstream files: release tags and the CRD list
    "docs/eks.md",  # the documented first-deploy steps the first-sync simulation starts from
    "docs/runbooks",  # the pages the Argo CD UI's links and notifications point at
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


def validate(repo: Path, *checks: str) -> Report:
    """The named checks over `repo` (default: FAST)."""
    return validate_repo(repo, checks or FAST)


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The first container of the Deployment that is the first document of `docs`."""
    return docs[0]["spec"]["template"]["spec"]["containers"][0]


def with_model(repo: Path, tenant: str, short: str, *, dedicated: bool = False) -> Path:
    """`repo` with the model <tenant>-<short> declared on every cluster, as `make model` writes
    it (a Deployment of its own when `dedicated`)."""
    from gitops.edits.add_model import plan  # renders the tenant's base: imported when used

    plan(repo, tenant, short, dedicated=dedicated).apply()
    return repo
