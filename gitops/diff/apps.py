"""Every Argo CD Application a checkout deploys, with the objects each one renders, for
the rendered diff. The walk itself (root apps, app of apps, ApplicationSet expansion) is
gitops.tree.app_tree's, shared with validation; this module only shapes it for comparing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops.tree.app_tree import TreeBuilder
from gitops.tree.findings import name_of
from gitops.tree.kustomizations import discover, render_all
from gitops.tree.repo_sources import app_sources, normalise_repo_url


@dataclass
class Application:
    key: str
    source: str
    resources: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _root_repo_url(entry_objects: list[dict[str, Any]]) -> str:
    """The repository the root Applications point at: by definition, this one."""
    for obj in entry_objects:
        if obj.get("kind") == "Application":
            for source in app_sources(obj):
                if source.get("path") is not None and source.get("repoURL"):
                    return str(source["repoURL"])
    return ""


def _external_source(source: dict[str, Any], namespace: str) -> dict[str, Any]:
    """A stand-in object so that a changed chart version or revision shows as a change."""
    name = source.get("chart") or source.get("path") or source.get("repoURL", "")
    return {
        "apiVersion": "argoproj.io/source",
        "kind": "HelmChart" if source.get("chart") else "ExternalSource",
        "metadata": {"name": str(name), "namespace": namespace},
        "spec": source,
    }


def _describe(source: dict[str, Any]) -> str:
    if source.get("chart"):
        return f"chart {source['chart']} {source.get('targetRevision', '')}".strip()
    return str(source.get("path", source.get("repoURL", "")))


def collect(root: Path, repo_urls: set[str] | None = None) -> dict[str, Application]:
    """Applications by `<cluster>/<name>`; each cluster's entry point is `<cluster>/(root)`."""
    clusters_dir = root / "clusters"
    clusters = (
        sorted(p.name for p in clusters_dir.iterdir() if p.is_dir())
        if clusters_dir.is_dir()
        else []
    )
    entries = render_all([p for p in discover(root) if p.is_relative_to(clusters_dir)], root)
    own_urls = {normalise_repo_url(u) for u in repo_urls or set()}
    root_url = _root_repo_url([o for r in entries.values() for o in r.objects])
    own_urls.add(normalise_repo_url(root_url))
    # Namespaces are compared as written: defaulting them needs the API's scope table.
    builder = TreeBuilder(root, root_url, entries, lambda _obj: False)

    apps: dict[str, Application] = {}
    for cluster in clusters:
        tree = builder.build(cluster)
        entry = Application(f"{cluster}/(root)", f"clusters/{cluster}", tree.entry_objects)
        entry.errors = [
            r.error
            for p, r in entries.items()
            if r.error and p.is_relative_to(clusters_dir / cluster)
        ]
        apps[entry.key] = entry
        for app in tree.apps:
            key = f"{cluster}/{name_of(app.obj)}"
            if key in apps:
                continue  # the same Application reached twice: the first one is it
            resources = list(app.objects)
            for source in app_sources(app.obj):
                external = normalise_repo_url(str(source.get("repoURL", ""))) not in own_urls
                if source.get("chart") or (external and "ref" not in source):
                    resources.append(_external_source(source, app.destination_namespace))
            source_text = ", ".join(_describe(s) for s in app_sources(app.obj)) or "(no source)"
            apps[key] = Application(key, source_text, resources)
        for finding in tree.findings:
            # Pinning policy is validation's business; the diff reports what stops a render.
            if "not pinned" in finding.problem:
                continue
            where = finding.where.split(": ", 1)[-1]
            owner = next((a for a in tree.apps if a.ref == where), None)
            target = apps.get(f"{cluster}/{name_of(owner.obj)}") if owner else entry
            (target or entry).errors.append(str(finding))
    return apps
