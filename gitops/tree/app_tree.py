"""Follow a cluster's Argo CD app-of-apps offline: from the kustomizations under
clusters/<cluster>/ to every Application (including those ApplicationSets generate) and
the objects each one deploys."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitops.tree.appsets import UnsupportedTemplate, expand
from gitops.tree.findings import Finding, name_of, namespace_of, obj_ref
from gitops.tree.kustomizations import Rendered, is_kustomization, render_one
from gitops.tree.repo_sources import app_sources, normalise_repo_url

CHECK = "argo"
ARGO_KINDS = ("Application", "ApplicationSet")


@dataclass
class App:
    cluster: str
    obj: dict[str, Any]
    parent: str  # obj_ref of what rendered or generated it
    objects: list[dict[str, Any]] = field(default_factory=list)  # namespace defaulted
    generated_by: str = ""  # obj_ref of the ApplicationSet, if generated
    source_paths: list[str] = field(default_factory=list)  # repo-relative, this repo's sources

    @property
    def ref(self) -> str:
        return obj_ref(self.obj)

    @property
    def where(self) -> str:
        return f"{self.cluster}: {self.ref}"

    @property
    def destination_namespace(self) -> str:
        return str(((self.obj.get("spec") or {}).get("destination") or {}).get("namespace") or "")

    @property
    def project(self) -> str:
        return str((self.obj.get("spec") or {}).get("project") or "")


@dataclass
class ClusterTree:
    cluster: str
    apps: list[App] = field(default_factory=list)
    appsets: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (parent, obj)
    entry_objects: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    covered: set[Path] = field(default_factory=set)  # kustomization folders some app deploys

    def all_objects(self) -> list[dict[str, Any]]:
        return [o for a in self.apps for o in a.objects]

    def app_projects(self) -> dict[str, dict[str, Any]]:
        return {
            name_of(o): o
            for o in [*self.entry_objects, *self.all_objects()]
            if o.get("kind") == "AppProject"
        }


class TreeBuilder:
    def __init__(
        self,
        repo_root: Path,
        repo_url: str,
        rendered: dict[Path, Rendered],
        is_namespaced: Any,
    ) -> None:
        self.repo_root = repo_root
        self.repo_url = normalise_repo_url(repo_url)
        self.rendered = rendered
        self.is_namespaced = is_namespaced

    def build(self, cluster: str) -> ClusterTree:
        tree = ClusterTree(cluster)
        entry = self.repo_root / "clusters" / cluster
        if not entry.is_dir():
            tree.findings.append(
                Finding(
                    CHECK,
                    f"clusters/{cluster}",
                    "",
                    "cluster entry folder missing",
                    "clusters/<cluster>/ with the root Application",
                )
            )
            return tree
        entries = [self.rendered[p] for p in sorted(self.rendered) if p.is_relative_to(entry)]
        if not is_kustomization(entry):
            # a root Application applied by the bootstrap script as a plain file
            rel = f"clusters/{cluster}"
            entries.append(Rendered(entry, rel, plain_manifests(entry, recurse=False)))
        for rendered in entries:
            tree.entry_objects += rendered.objects
            for obj in rendered.objects:
                self._visit(tree, obj, rendered.rel, seen=set())
        if not any(a.parent.startswith("clusters/") for a in tree.apps):
            tree.findings.append(
                Finding(
                    CHECK,
                    f"clusters/{cluster}",
                    "",
                    "no Application rendered by the entry point",
                    "a root Application (app-of-apps) in clusters/<cluster>/",
                )
            )
        return tree

    def _visit(self, tree: ClusterTree, obj: dict[str, Any], parent: str, seen: set[str]) -> None:
        kind = obj.get("kind")
        if kind not in ARGO_KINDS or not str(obj.get("apiVersion", "")).startswith("argoproj.io/"):
            return
        ref = obj_ref(obj)
        if ref in seen:
            tree.findings.append(
                Finding(
                    CHECK,
                    f"{tree.cluster}: {parent}",
                    ref,
                    "Application renders itself (cycle)",
                    "a tree",
                )
            )
            return
        if kind == "ApplicationSet":
            tree.appsets.append((parent, obj))
            try:
                generated = expand(obj, self.repo_root)
            except UnsupportedTemplate as exc:
                tree.findings.append(
                    Finding(
                        CHECK,
                        f"{tree.cluster}: {parent}",
                        ref,
                        str(exc),
                        "an ApplicationSet this validator can expand",
                    )
                )
                return
            for app in generated:
                self._visit_app(tree, app, parent, seen | {ref}, generated_by=ref)
            return
        self._visit_app(tree, obj, parent, seen | {ref}, generated_by="")

    def _visit_app(
        self,
        tree: ClusterTree,
        obj: dict[str, Any],
        parent: str,
        seen: set[str],
        generated_by: str,
    ) -> None:
        app = App(tree.cluster, obj, parent, generated_by=generated_by)
        tree.apps.append(app)
        sources = app_sources(obj)
        if not sources:
            tree.findings.append(
                Finding(
                    CHECK, app.where, "", "Application has no source", "spec.source or spec.sources"
                )
            )
        for source in sources:
            objects = self._source_objects(tree, app, source)
            app.objects += [self._default_namespace(o, app.destination_namespace) for o in objects]
        for child in app.objects:
            self._visit(tree, child, app.ref, seen)

    def _source_objects(
        self, tree: ClusterTree, app: App, source: dict[str, Any]
    ) -> list[dict[str, Any]]:
        repo = normalise_repo_url(str(source.get("repoURL", "")))
        if "chart" in source:
            tree.findings += pinned(app, source)
            return []  # an upstream chart: rendered by Argo CD, pinned version checked here
        if "ref" in source and "path" not in source:
            return []  # a values-only source for a multi-source Application
        if repo != self.repo_url:
            tree.findings += pinned(app, source)
            return []
        rel_path = str(source.get("path", "")).strip("/")
        app.source_paths.append(rel_path)
        path = (self.repo_root / rel_path).resolve()
        if not rel_path or not path.is_dir() or not path.is_relative_to(self.repo_root.resolve()):
            tree.findings.append(
                Finding(
                    CHECK,
                    app.where,
                    "",
                    f"source path {rel_path!r} does not exist in the repository",
                    "an existing folder (a kustomization or plain manifests)",
                )
            )
            return []
        if is_kustomization(path):
            tree.covered.add(path)
            rendered = self.rendered.get(path) or render_one(path, self.repo_root)
            if rendered.error:
                tree.findings.append(
                    Finding(
                        CHECK,
                        app.where,
                        "",
                        f"source path {rel_path} does not render: {rendered.error}",
                        "kustomize build ok",
                    )
                )
            return copy.deepcopy(rendered.objects)
        return plain_manifests(path, bool((source.get("directory") or {}).get("recurse")))

    def _default_namespace(self, obj: dict[str, Any], namespace: str) -> dict[str, Any]:
        # Argo CD puts namespaced objects without a namespace into the destination namespace.
        if namespace and not namespace_of(obj) and self.is_namespaced(obj):
            obj = copy.deepcopy(obj)
            obj.setdefault("metadata", {})["namespace"] = namespace
        return obj


def plain_manifests(path: Path, recurse: bool) -> list[dict[str, Any]]:
    files = sorted(path.rglob("*") if recurse else path.glob("*"))
    objects = []
    for file in files:
        if file.suffix in (".yaml", ".yml", ".json") and file.is_file():
            objects += [d for d in yaml.safe_load_all(file.read_text(encoding="utf-8")) if d]
    return objects


_FLOATING = ("*", "x", "X", "^", "~", ">", "<", "||", " - ")


def pinned(app: App, source: dict[str, Any]) -> list[Finding]:
    """A source from outside this repository must name an exact version."""
    what = f"chart {source['chart']}" if "chart" in source else f"repo {source.get('repoURL')}"
    revision = str(source.get("targetRevision", "")).strip()
    floating = (
        not revision
        or revision.lower() in ("latest", "head", "main", "master", "stable")
        or any(token in revision for token in _FLOATING if token not in ("x", "X"))
        or any(part in ("x", "X") for part in revision.lstrip("v").split("."))
    )
    if "chart" in source and not source.get("chart"):
        floating = True
    if not floating:
        return []
    return [
        Finding(
            CHECK,
            app.where,
            "",
            f"{what} targetRevision {revision!r} is not pinned",
            "an exact version such as 1.2.3 (no *, x, ranges, latest or branches)",
        )
    ]
