"""Helpers of the health tests: where Argo CD's built-in health scripts are, objects read from
YAML the way Argo CD's own tests read them, and the argocd-cm data the bootstrap installs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from gitops import paths

# Until the resolver that downloads them exists: $ARGOCD_HEALTH_DIR, else the offline mirror
# beside the repository.
_MIRROR = paths.REPO_ROOT.parent / "shared" / "argocd-health"
_DIR = os.environ.get("ARGOCD_HEALTH_DIR") or str(_MIRROR)
SCRIPTS_DIR: Path | None = Path(_DIR) if Path(_DIR).is_dir() else None
NO_SCRIPTS = (
    f"Argo CD's health scripts are not at {_DIR}: set ARGOCD_HEALTH_DIR to a folder laid out "
    "like argo-cd's resource_customizations/ (or provide ../shared/argocd-health)"
)


class _JsonLoader(yaml.SafeLoader):
    """YAML as sigs.k8s.io/yaml reads it for Argo CD's tests: through JSON, so a timestamp
    stays a string."""


_JsonLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_object(text: str) -> Any:
    return yaml.load(text, Loader=_JsonLoader)  # noqa: S506 - a SafeLoader subclass


def argocd_cm_data(config_map: Path) -> dict[str, str]:
    """The data of an argocd-cm ConfigMap file (base/argocd/argocd-cm.yaml: what the bootstrap
    applies before the root's first sync)."""
    return dict(yaml.safe_load(config_map.read_text(encoding="utf-8")).get("data") or {})
