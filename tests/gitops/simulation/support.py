"""Builders shared by the simulation tests: tiny objects, a tree made by hand, and a Simulation
on it with the pinned CRDs and Argo CD's own health checks (the `crds` and `argocd-health` sets
of upstream-files.yaml)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from gitops import paths
from gitops.settings import Settings
from gitops.simulation.argocd.controller import ARGOCD_NAMESPACE, IN_CLUSTER
from gitops.simulation.argocd.sync import HOOK, SYNC_OPTIONS, WAVE
from gitops.simulation.engine import Simulation
from gitops.simulation.world import Images, World
from gitops.tree import upstream
from gitops.tree.app_tree import App, ClusterTree
from gitops.tree.crds import CrdSet, load_crds
from tests.gitops.simulation.health.support import argocd_cm_data

REPO_URL = "https://github.com/example-org/ml-inference-platform.git"
ENTRY = "clusters/test"  # what the root Application is rendered from
CLUSTER = "test"
# Third-party images pull anonymously; this prefix stands for the platform's own packages.
OWN = "ghcr.io/example-org/ml-inference-platform/"
PUBLIC_IMAGE = "docker.io/library/busybox:1.36"


@functools.cache
def crds() -> CrdSet:
    return load_crds(upstream.folder("crds", Settings.from_env()))


@functools.cache
def health_scripts() -> Path:
    return upstream.folder("argocd-health", Settings.from_env())


@functools.cache
def application_health_check() -> dict[str, str]:
    """The argocd-cm data clusters/install-argocd.sh applies (an Application's health)."""
    return argocd_cm_data(paths.REPO_ROOT / "base" / "argocd" / "argocd-cm.yaml")


# --- objects ------------------------------------------------------------------------------


def meta(name: str, namespace: str = "", **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, **fields}
    if namespace:
        out["namespace"] = namespace
    return out


def with_annotations(obj: dict[str, Any], annotations: dict[str, str]) -> dict[str, Any]:
    obj.setdefault("metadata", {}).setdefault("annotations", {}).update(annotations)
    return obj


def in_wave(obj: dict[str, Any], wave: int) -> dict[str, Any]:
    return with_annotations(obj, {WAVE: str(wave)})


def as_hook(obj: dict[str, Any], phase: str) -> dict[str, Any]:
    return with_annotations(obj, {HOOK: phase})


def with_sync_option(obj: dict[str, Any], option: str) -> dict[str, Any]:
    return with_annotations(obj, {SYNC_OPTIONS: option})


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(name, labels=labels or {})}


def config_map(name: str, ns: str, data: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(name, ns), "data": data or {}}


def secret(name: str, ns: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta(name, ns), "stringData": data}


def service_account(name: str, ns: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name, ns)}


def crd(group: str, kind: str, scope: str = "Namespaced") -> dict[str, Any]:
    plural = kind.lower() + "s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": meta(f"{plural}.{group}"),
        "spec": {"group": group, "names": {"kind": kind, "plural": plural}, "scope": scope},
    }


def service_monitor(name: str, ns: str) -> dict[str, Any]:
    """A custom resource of a group the pinned CRDs know (served only once its CRD exists)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": meta(name, ns),
        "spec": {"selector": {}, "endpoints": []},
    }


def container(name: str = "main", image: str = PUBLIC_IMAGE, **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **fields}


RESTRICTED_POD = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
}
RESTRICTED_CONTAINER = {
    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
}


def pod_spec(*containers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"containers": list(containers) or [container()], **fields}


def workload(
    kind: str, name: str, ns: str, spec: dict[str, Any], replicas: int | None = 1
) -> dict[str, Any]:
    """A Deployment, StatefulSet, DaemonSet or Job running pods of `spec`."""
    labels = {"app.kubernetes.io/name": name}
    body: dict[str, Any] = {
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": spec},
    }
    if kind in ("Deployment", "StatefulSet") and replicas is not None:
        body["replicas"] = replicas
    group = "batch" if kind == "Job" else "apps"
    return {"apiVersion": f"{group}/v1", "kind": kind, "metadata": meta(name, ns), "spec": body}


# --- Argo CD objects ------------------------------------------------------------------------


def project(
    name: str = "team",
    destinations: list[tuple[str, str]] | None = None,
    cluster_resources: list[dict[str, str]] | None = None,
    namespace_resources: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """An AppProject; `destinations` as (server, namespace) patterns, everything by default;
    `cluster_resources` the clusterResourceWhitelist (every kind by default)."""
    spec: dict[str, Any] = {
        "sourceRepos": [REPO_URL],
        "destinations": [
            {"server": server, "namespace": ns} for server, ns in destinations or [("*", "*")]
        ],
        "clusterResourceWhitelist": (
            cluster_resources if cluster_resources is not None else [{"group": "*", "kind": "*"}]
        ),
    }
    if namespace_resources is not None:
        spec["namespaceResourceWhitelist"] = namespace_resources
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": meta(name, ARGOCD_NAMESPACE),
        "spec": spec,
    }


def application(
    name: str,
    ns: str,
    project_name: str = "team",
    *,
    automated: bool = True,
    prune: bool = False,
    retry_limit: int | None = None,
    options: tuple[str, ...] = (),
    namespace_metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    policy: dict[str, Any] = {}
    if automated:
        policy["automated"] = {"prune": prune}
    if retry_limit is not None:
        policy["retry"] = {"limit": retry_limit}
    if options:
        policy["syncOptions"] = list(options)
    if namespace_metadata is not None:
        policy["managedNamespaceMetadata"] = namespace_metadata
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": meta(name, ARGOCD_NAMESPACE),
        "spec": {
            "project": project_name,
            "source": {"repoURL": REPO_URL, "path": f"apps/{name}", "targetRevision": "main"},
            "destination": {"server": IN_CLUSTER, "namespace": ns},
            "syncPolicy": policy,
        },
    }


def application_set(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": meta(name, ARGOCD_NAMESPACE),
        "spec": {"generators": [], "template": {"metadata": {}, "spec": {}}},
    }


def tree_app(
    obj: dict[str, Any],
    objects: list[dict[str, Any]],
    parent: str = ENTRY,
    generated_by: str = "",
) -> App:
    return App(CLUSTER, obj, parent, objects, generated_by)


# --- a simulated cluster --------------------------------------------------------------------


def kind_world(**images: Any) -> World:
    """A Kind cluster after the bootstrap: Argo CD installed with the Application health
    check, the `standard` StorageClass, the platform's images at OWN."""
    world = World(
        "kind",
        images=Images(own_prefix=OWN, **images),
        storage_classes={"standard": True},
        argocd_installed=True,
    )
    world.argocd_cm = dict(application_health_check())
    return world


def simulation(apps: list[App], world: World | None = None) -> Simulation:
    return Simulation(
        ClusterTree(CLUSTER, apps=apps), crds(), world or kind_world(), health_scripts()
    )


def boot(sim: Simulation, *objects: dict[str, Any]) -> Simulation:
    """`kubectl apply` of the given objects (a project, the root Application), then time
    passes until nothing changes."""
    assert sim.apply(list(objects)) == []
    sim.settle()
    return sim
