"""The `tenant-models` rules on how a tenant's inference Deployments stand apart (a dedicated
model's from the shared one's) and share the same guardrails, from the objects of the tenant
namespace as the cluster's Applications deploy them.

Kubernetes' selectors are equality-based (a Service's selector is a plain map; a
Deployment's, immutable once created, a LabelSelector): a dedicated model's pods carry their
own app.kubernetes.io/name so that nothing of the shared Deployment selects them
(https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors).
A Deployment whose selector matches another's pods shares its pods' metrics with the HPA
that scales it (the HPA reads the pods its target's scale subresource selects,
https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#how-does-a-horizontalpodautoscaler-work);
a Service or PDB across two
Deployments sends requests to pods that do not serve the model, or counts the wrong pods.

Names: a Service's name is an RFC 1035 label, a label value at most 63 characters
(https://kubernetes.io/docs/concepts/overview/working-with-objects/names/,
.../labels/#syntax-and-character-set).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gitops.checks.tenant_models.shared import CHECK
from gitops.tree.app_tree import App
from gitops.tree.findings import Finding, annotations_of, labels_of, name_of
from gitops.tree.selectors import matches, matches_map, pod_template
from gitops.tree.tenant_models import InferenceWorkload
from inference.contracts.tenant_models import SHARED

# The selector every running cluster's shared inference Deployment has. A Deployment's
# spec.selector is immutable once created in apps/v1
# (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#label-selector-updates):
# a tree that changes it cannot be synced over a running cluster, so it must never change here.
SHARED_SELECTOR = {"matchLabels": {"app.kubernetes.io/name": "inference-service"}}
RFC_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
MAX_LABEL = 63
GROUP_ORDER = "alb.ingress.kubernetes.io/group.order"


def isolation_findings(
    app: App, tenant: str, workloads: list[InferenceWorkload], objects: list[dict[str, Any]]
) -> Iterator[Finding]:
    pods = {w.name: labels_of(pod_template(w.workload) or {}) for w in workloads}
    of_kind = _by_kind(objects)
    yield from _selectors(app, workloads, pods, of_kind)
    yield from _scrapes(app, pods, of_kind)
    yield from _network_policies(app, workloads, pods, of_kind.get("NetworkPolicy", []))
    yield from _names(app, pods, of_kind.get("Service", []))
    ingresses = of_kind.get("Ingress", [])
    if ingresses:
        yield from _ingress_paths(app, workloads, pods, ingresses, of_kind.get("Service", []))


def _by_kind(objects: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        found.setdefault(str(obj.get("kind")), []).append(obj)
    return found


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec") or {}


def _selected_by_service(service: dict[str, Any], pods: dict[str, dict[str, str]]) -> list[str]:
    selector = _spec(service).get("selector") or {}
    return sorted(name for name, labels in pods.items() if matches_map(selector, labels))


def _selectors(
    app: App,
    workloads: list[InferenceWorkload],
    pods: dict[str, dict[str, str]],
    of_kind: dict[str, list[dict[str, Any]]],
) -> Iterator[Finding]:
    for service in of_kind.get("Service", []):
        selected = _selected_by_service(service, pods)
        if len(selected) > 1:
            yield Finding(
                CHECK,
                app.where,
                "",
                f"Service {name_of(service)} selects the pods of {len(selected)} inference "
                f"Deployments ({', '.join(selected)}): requests for a model reach pods that do "
                "not serve it",
                "a selector one Deployment's pods alone match (a dedicated model's pods carry "
                "their own app.kubernetes.io/name)",
            )
    for pdb in of_kind.get("PodDisruptionBudget", []):
        selector = _spec(pdb).get("selector")
        selected = sorted(n for n, labels in pods.items() if matches(selector, labels))
        if len(selected) > 1:
            yield Finding(
                CHECK,
                app.where,
                "",
                f"PodDisruptionBudget {name_of(pdb)} covers the pods of {len(selected)} "
                f"inference Deployments ({', '.join(selected)}): one model's pods may all be "
                "evicted while the other's keep the budget",
                "one PodDisruptionBudget per Deployment, selecting its pods alone",
            )
    for workload in workloads:
        selector = _spec(workload.workload).get("selector")
        if workload.serving.deployment == SHARED and selector != SHARED_SELECTOR:
            yield Finding(
                CHECK,
                app.where,
                "",
                f"the shared Deployment {workload.name}'s selector is {selector}, not "
                f"{SHARED_SELECTOR}: a Deployment's selector cannot be changed once created, so "
                "Argo CD's sync of every running cluster is refused (field is immutable)",
                f"spec.selector {SHARED_SELECTOR} (new pod labels go in the template only)",
            )
        others = sorted(
            n for n, labels in pods.items() if n != workload.name and matches(selector, labels)
        )
        if others:
            yield Finding(
                CHECK,
                app.where,
                "",
                f"Deployment {workload.name}'s selector also matches the pods of "
                f"{', '.join(others)}: its HPA scales on their CPU too (and a Deployment's "
                "selector cannot be changed once created)",
                "pods of each Deployment labelled so that no other Deployment's selector "
                "matches them",
            )


def _scrapes(
    app: App, pods: dict[str, dict[str, str]], of_kind: dict[str, list[dict[str, Any]]]
) -> Iterator[Finding]:
    """Every inference pod scraped by exactly one ServiceMonitor (through a Service of this
    namespace that selects it and has the endpoint's port)."""
    services = of_kind.get("Service", [])
    scrapers: dict[str, list[str]] = {name: [] for name in pods}
    for monitor in of_kind.get("ServiceMonitor", []):
        spec = _spec(monitor)
        ports = {str(e.get("port")) for e in spec.get("endpoints") or [] if e.get("port")}
        for service in services:
            names = {str(p.get("name")) for p in _spec(service).get("ports") or []}
            if not matches(spec.get("selector"), labels_of(service)) or not ports & names:
                continue
            for pod in _selected_by_service(service, pods):
                scrapers[pod].append(name_of(monitor))
    for pod, monitors in sorted(scrapers.items()):
        if len(set(monitors)) == 1:
            continue
        problem = (
            "are scraped by no ServiceMonitor: their metrics never reach Prometheus"
            if not monitors
            else f"are scraped by {len(set(monitors))} ServiceMonitors "
            f"({', '.join(sorted(set(monitors)))}): every series is counted twice"
        )
        yield Finding(
            CHECK,
            app.where,
            "",
            f"the pods of Deployment {pod} {problem}",
            "exactly one ServiceMonitor per inference Deployment, through its own Service",
        )


def _network_policies(
    app: App,
    workloads: list[InferenceWorkload],
    pods: dict[str, dict[str, str]],
    policies: list[dict[str, Any]],
) -> Iterator[Finding]:
    """The tenant's NetworkPolicies select a dedicated model's pods as they select the shared
    Deployment's: the same paths in and out, no more, no fewer."""
    shared = next((w.name for w in workloads if w.serving.deployment == SHARED), None)
    if shared is None:
        return
    selecting = {
        name: {name_of(p) for p in policies if matches(_spec(p).get("podSelector"), labels)}
        for name, labels in pods.items()
    }
    for name, chosen in sorted(selecting.items()):
        missing, extra = selecting[shared] - chosen, chosen - selecting[shared]
        if name == shared or not (missing or extra):
            continue
        detail = "; ".join(
            part
            for part in (
                f"not selected by {', '.join(sorted(missing))}" if missing else "",
                f"also selected by {', '.join(sorted(extra))}" if extra else "",
            )
            if part
        )
        yield Finding(
            CHECK,
            app.where,
            "",
            f"the tenant's NetworkPolicies treat the pods of Deployment {name} unlike the "
            f"shared Deployment {shared}'s: {detail}",
            "NetworkPolicies selecting every inference pod of the tenant alike (base/tenant "
            "selects app.kubernetes.io/part-of)",
        )


def _names(
    app: App, pods: dict[str, dict[str, str]], services: list[dict[str, Any]]
) -> Iterator[Finding]:
    for service in services:
        name = name_of(service)
        if len(name) > MAX_LABEL or not RFC_1035_LABEL.match(name):
            yield Finding(
                CHECK,
                app.where,
                "",
                f"Service name {name!r} ({len(name)} characters) is not an RFC 1035 label: "
                "the API server refuses it",
                "lowercase letters, digits and '-', starting with a letter, at most 63 "
                "characters (a dedicated model's short name at most 45)",
            )
    for workload, labels in sorted(pods.items()):
        for key, value in sorted(labels.items()):
            if len(value) > MAX_LABEL or not LABEL_VALUE.match(value):
                yield Finding(
                    CHECK,
                    app.where,
                    "",
                    f"Deployment {workload}: pod label {key}={value!r} is not a valid label "
                    "value: the API server refuses the Deployment",
                    "at most 63 characters: letters, digits, '-', '_' and '.'",
                )


def _ingress_paths(
    app: App,
    workloads: list[InferenceWorkload],
    pods: dict[str, dict[str, str]],
    ingresses: list[dict[str, Any]],
    services: list[dict[str, Any]],
) -> Iterator[Finding]:
    """Where the tenant has an Ingress, each dedicated model's paths on it reach the model's
    own Service, in rules evaluated before any catch-all that sends them elsewhere."""
    by_service = {name_of(s): _selected_by_service(s, pods) for s in services}
    routes = []  # (order, ingress, path, the Deployments its backend reaches)
    for ingress in ingresses:
        order = _order(ingress)
        for rule in _spec(ingress).get("rules") or []:
            for path in ((rule.get("http") or {}).get("paths")) or []:
                backend = ((path.get("backend") or {}).get("service") or {}).get("name")
                reaches = by_service.get(str(backend), [])
                routes.append((order, name_of(ingress), str(path.get("path", "/")), reaches))
    for workload in workloads:
        model = workload.serving.deployment
        if model == SHARED:
            continue
        for prefix in (f"/models/{model}", f"/v2/models/{model}"):
            own = [r for r in routes if r[2] == prefix and workload.name in r[3]]
            if not own:
                yield Finding(
                    CHECK,
                    app.where,
                    "",
                    f"no Ingress sends {prefix} to the Service of Deployment {workload.name}: "
                    "requests for the dedicated model reach the shared Deployment, which does "
                    "not serve it",
                    f"an Ingress path {prefix} (Prefix) to its Service (make model ... "
                    "DEDICATED=1 writes it)",
                )
                continue
            order, ingress = own[0][0], own[0][1]
            first = [
                r
                for r in routes
                if r[0] < order or (r[0] == order and r[1] < ingress)
                if prefix.startswith(r[2].rstrip("/") + "/") and workload.name not in r[3]
            ]
            for _, other, path, _ in first:
                yield Finding(
                    CHECK,
                    app.where,
                    "",
                    f"Ingress {other}'s path {path} is evaluated before {ingress}'s {prefix} "
                    f"(group.order, then namespace/name): requests for {model} never reach "
                    f"Deployment {workload.name}",
                    f"{GROUP_ORDER} on {ingress} lower than on {other}",
                )


def _order(ingress: dict[str, Any]) -> int:
    """aws-load-balancer-controller's group.order: rules of a smaller order are evaluated
    first, 0 when unset, ties by namespace/name (v3.5.0 docs/guide/ingress/annotations.md)."""
    try:
        return int(annotations_of(ingress).get(GROUP_ORDER, "0"))
    except ValueError:
        return 0
