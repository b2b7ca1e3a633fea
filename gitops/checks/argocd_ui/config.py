"""What the check reads: each cluster's Argo CD settings as the tree renders them, the
cluster's base URLs, the Grafana dashboards and the repository's runbooks, and the keys
Argo CD v3.5.1 reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops.tree.app_tree import ClusterTree
from gitops.tree.findings import name_of

# What clusters/install-argocd.sh applies and the argocd-settings Application syncs.
SETTINGS_DIR = "overlays/{cluster}/argocd/config"
SETTINGS_FILE = "clusters/{cluster}/settings/settings.env"
DASHBOARDS = "base/monitoring/dashboards"
# The cluster settings that are base URLs of a UI, and the service each stands for.
URL_SETTINGS = {
    "ARGOCD_URL": "argocd",
    "MLFLOW_URL": "mlflow",
    "GRAFANA_URL": "grafana",
    "PROMETHEUS_URL": "prometheus",
    "ALERTMANAGER_URL": "alertmanager",
}
# argocd-cm keys of deep links (argo-cd v3.5.1 util/settings/settings.go: ApplicationDeepLinks,
# ResourceDeepLinks, ProjectDeepLinks) and the data each location's links see
# (server/application/application.go ListLinks/ListResourceLinks, server/project/project.go).
LINK_LOCATIONS = {
    "application.links": ("app", "application", "cluster"),
    "resource.links": ("resource", "application", "cluster", "project"),
    "project.links": ("project",),
}
# A few other argocd-cm keys a person may add here, each read at v3.5.1: `url` and
# `statusbadge.enabled` (util/settings/settings.go), `admin.enabled` (util/settings/
# accounts.go), `timeout.reconciliation` (manifests/install.yaml, the controller's env). The
# resource customizations are read by their prefix (settings.go GetResourceOverrides). A key
# outside these is reported, so a misspelt one (`application.link`) does not pass silently;
# a real key missing here is added with its citation.
ARGOCD_CM_KEYS = frozenset(
    {*LINK_LOCATIONS, "url", "timeout.reconciliation", "admin.enabled", "statusbadge.enabled"}
)
CUSTOMIZATION_PREFIX = "resource.customizations"
# A link's fields (settings.go DeepLink: url, title, description, icon.class, if).
LINK_FIELDS = frozenset({"url", "title", "description", "icon.class", "if"})


@dataclass(frozen=True)
class Dashboard:
    uid: str
    variables: frozenset[str]
    file: str


@dataclass
class ClusterUi:
    """One cluster's Argo CD settings and what they may link to."""

    cluster: str
    tree: ClusterTree
    settings_dir: str
    argocd_cm: dict[str, str] = field(default_factory=dict)
    notifications_cm: dict[str, str] = field(default_factory=dict)
    base_urls: dict[str, str] = field(default_factory=dict)  # service -> URL
    found: bool = False


def read_env(path: Path) -> dict[str, str]:
    values = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
    return values


def cluster_ui(root: Path, tree: ClusterTree, rendered: Iterable[Any]) -> ClusterUi:
    settings_dir = SETTINGS_DIR.format(cluster=tree.cluster)
    ui = ClusterUi(tree.cluster, tree, settings_dir)
    for result in rendered:
        if result.rel != settings_dir:
            continue
        ui.found = True
        for obj in result.objects:
            if obj.get("kind") == "ConfigMap" and name_of(obj) == "argocd-cm":
                ui.argocd_cm = {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
            if obj.get("kind") == "ConfigMap" and name_of(obj) == "argocd-notifications-cm":
                ui.notifications_cm = {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
    env = read_env(root / SETTINGS_FILE.format(cluster=tree.cluster))
    ui.base_urls = {service: env[key] for key, service in URL_SETTINGS.items() if key in env}
    return ui


def dashboards(root: Path) -> dict[str, Dashboard]:
    out = {}
    for path in sorted((root / DASHBOARDS).glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        variables = frozenset(
            str(v.get("name")) for v in (data.get("templating") or {}).get("list") or []
        )
        uid = str(data.get("uid") or "")
        out[uid] = Dashboard(uid, variables, path.relative_to(root).as_posix())
    return out


_GITHUB_BLOB = re.compile(r"^https://github\.com/(?P<slug>[^/]+/[^/]+)/blob/[^/]+/(?P<path>.+)$")


def repository_slug(tree: ClusterTree) -> str:
    """owner/name of the repository the tree's root Application syncs from."""
    for obj in tree.entry_objects:
        if obj.get("kind") == "Application" and name_of(obj) == "root":
            url = str(((obj.get("spec") or {}).get("source") or {}).get("repoURL") or "")
            return url.removesuffix(".git").split("github.com/", 1)[-1]
    return ""


def github_file(url: str) -> tuple[str, str] | None:
    """(owner/name, path) of a github.com blob URL."""
    match = _GITHUB_BLOB.match(url.split("#", 1)[0].split("?", 1)[0])
    return (match["slug"], match["path"]) if match else None


def in_cluster() -> dict[str, Any]:
    """The `cluster` of deep links for the in-cluster destination every Application here
    uses: server/deeplinks/deeplinks.go SanitizeCluster keeps server and name (the rest is
    empty and omitted)."""
    return {"server": "https://kubernetes.default.svc", "name": "in-cluster"}


def project_for_links(project: Mapping[str, Any]) -> dict[str, Any]:
    """An AppProject as deep links see it: its status dropped (getObjectsForDeepLinks)."""
    return {k: v for k, v in project.items() if k != "status"}
