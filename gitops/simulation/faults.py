"""Faults planted in a later revision of the tree, after a first sync: what the Argo CD
notifications must report. Each is a commit a person could make, and the simulation decides
what Argo CD shows for it:

- `refused_kind`: the Application's folder gains a kind its AppProject does not allow (a Role
  in a tenant's workload folder): the sync operation fails at validation ("... is not
  permitted in project ...");
- `unbuilt_image`: a Deployment pins an image tag that was never built: its new pods never
  pull, the Deployment passes its progress deadline and the Application turns Degraded;
- `never_ready`: a resource in an earlier wave that never turns Healthy nor Degraded (a
  LoadBalancer Service on a cluster without a load balancer controller waits for an address
  for ever, gitops-engine health_service.go): the sync operation keeps Running.

`plant(sim, faults)` commits them as one revision and lets the simulation settle.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from typing import Any

from gitops.simulation.argocd.sync import wave_of
from gitops.simulation.engine import Simulation
from gitops.tree.app_tree import App
from gitops.tree.findings import name_of

Edit = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
WAVE = "argocd.argoproj.io/sync-wave"


def refused_kind(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    namespace = next(
        (str((o.get("metadata") or {}).get("namespace") or "") for o in objects), "default"
    )
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "planted-role", "namespace": namespace},
        "rules": [],
    }
    return [*objects, role]


def unbuilt_image(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for obj in objects:
        if obj.get("kind") != "Deployment":
            continue
        spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in spec.get("containers") or []:
            image = str(container.get("image", ""))
            name, _, tag = image.rpartition(":")
            container["image"] = f"{name}:{tag}-never-built" if name else f"{image}:never-built"
    return objects


def never_ready(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # A wave of its own before every other: never the last one, which succeeds at once.
    first = min((wave_of(o) for o in objects), default=0) - 1
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "planted-load-balancer",
            "namespace": "default",
            "annotations": {WAVE: str(first)},
        },
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
    }
    return [*objects, service]


def plant(sim: Simulation, faults: Iterable[tuple[str, Edit]], generation: int = 1) -> None:
    """Commit each (Application name, edit of what it deploys) as one later revision, then
    let Argo CD and the controllers run to rest."""
    assert sim.argocd is not None
    for app_name, edit in faults:
        tree_app = sim.tree_app(app_name)
        if tree_app is None:
            continue
        sim.replace_app(
            App(
                tree_app.cluster,
                tree_app.obj,
                tree_app.parent,
                edit(copy.deepcopy(tree_app.objects)),
                tree_app.generated_by,
                list(tree_app.source_paths),
            )
        )
    sim.argocd.revision = f"main+{generation}"
    sim.settle()


def live_applications(sim: Simulation) -> list[dict[str, Any]]:
    """Every Application as the API server returns it, status included: JSON (the
    simulation's own values, such as health status enums, become their strings)."""
    if sim.argocd is None:
        return []
    apps = sim.cluster.of_kind("argoproj.io", "Application", "argocd")
    return [json.loads(json.dumps(a, default=str)) for a in sorted(apps, key=name_of)]
