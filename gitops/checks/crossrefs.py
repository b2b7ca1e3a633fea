"""`crossrefs`: references between objects rendered together: Service -> pods and ports,
HPA -> target, PDB -> pods, ServiceMonitor -> Services and port names. Checked per
kustomization, per Application, and over each cluster's whole output (ServiceMonitors that
select Services in other namespaces)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from gitops.checks import Context, register
from gitops.tree.findings import Finding, labels_of, name_of, namespace_of, obj_ref
from gitops.tree.selectors import matches, matches_map, pod_template

CHECK = "crossrefs"


class Scope:
    """Objects deployed together, indexed by namespace."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.objects = [o for o in objects if isinstance(o, dict)]
        self.workloads: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.services: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.by_kind_name: set[tuple[str, str, str]] = set()
        for obj in self.objects:
            ns = namespace_of(obj)
            self.by_kind_name.add((str(obj.get("kind")), ns, name_of(obj)))
            if pod_template(obj) is not None:
                self.workloads[ns].append(obj)
            if obj.get("kind") == "Service":
                self.services[ns].append(obj)

    def namespaces(self) -> set[str]:
        return {namespace_of(o) for o in self.objects}


@register(
    CHECK,
    "Services, HPAs, PDBs and ServiceMonitors point at things that exist",
    order=40,
    generic=True,
)
def check(ctx: Context) -> Iterator[Finding]:
    for r in ctx.built:
        yield from check_objects(r.objects, r.rel)
    for tree in ctx.trees:
        for app in tree.apps:
            yield from check_objects(app.objects, app.where)
        yield from check_objects(
            tree.all_objects(), f"{tree.cluster}: all Applications", cluster_wide=True
        )


def check_objects(
    objects: list[dict[str, Any]], where: str, cluster_wide: bool = False
) -> list[Finding]:
    """`cluster_wide`: the scope holds everything deployed to a cluster, so ServiceMonitors
    that select Services in other namespaces are checked too (otherwise they are skipped)."""
    scope = Scope(objects)
    findings: list[Finding] = []
    for obj in scope.objects:
        kind = obj.get("kind")
        if kind == "Service":
            findings += _service(obj, scope, where)
        elif kind == "HorizontalPodAutoscaler":
            findings += _hpa(obj, scope, where)
        elif kind == "PodDisruptionBudget":
            findings += _pdb(obj, scope, where)
        elif kind == "ServiceMonitor":
            findings += _service_monitor(obj, scope, where, cluster_wide)
    return findings


def _pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    template = pod_template(workload) or {}
    return labels_of(template)


def _service(svc: dict[str, Any], scope: Scope, where: str) -> list[Finding]:
    spec = svc.get("spec") or {}
    selector = spec.get("selector") or {}
    if spec.get("type") == "ExternalName" or not selector:
        return []  # no selector: endpoints are managed by hand, nothing to cross-check
    ns = namespace_of(svc)
    selected = [w for w in scope.workloads[ns] if matches_map(selector, _pod_labels(w))]
    if not selected:
        return [
            Finding(
                CHECK,
                where,
                obj_ref(svc),
                f"selector {selector} matches no pod template",
                f"a Deployment/StatefulSet in namespace '{ns or '<none>'}' with these pod labels",
            )
        ]
    findings = []
    for port in spec.get("ports") or []:
        target = port.get("targetPort", port.get("port"))
        for workload in selected:
            if not _has_port(workload, target):
                findings.append(
                    Finding(
                        CHECK,
                        where,
                        obj_ref(svc),
                        f"targetPort {target!r} of port {port.get('name', port.get('port'))!r} "
                        f"is not a container port of {obj_ref(workload)}",
                        "a containerPort with that number or name",
                    )
                )
    return findings


def _has_port(workload: dict[str, Any], target: Any) -> bool:
    spec = (pod_template(workload) or {}).get("spec") or {}
    for container in spec.get("containers") or []:
        for port in container.get("ports") or []:
            if isinstance(target, int) and port.get("containerPort") == target:
                return True
            if isinstance(target, str) and port.get("name") == target:
                return True
            numeric = isinstance(target, str) and target.isdigit()
            if numeric and port.get("containerPort") == int(target):
                return True
    # A numeric targetPort reaches a process that listens without declaring the port; it
    # is still flagged because this repository always declares the ports it serves.
    return False


def _hpa(hpa: dict[str, Any], scope: Scope, where: str) -> list[Finding]:
    ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
    key = (str(ref.get("kind")), namespace_of(hpa), str(ref.get("name")))
    if key in scope.by_kind_name:
        return []
    return [
        Finding(
            CHECK,
            where,
            obj_ref(hpa),
            f"scaleTargetRef {ref.get('kind')}/{ref.get('name')} does not exist",
            f"a {ref.get('kind')} named {ref.get('name')!r} in namespace "
            f"'{namespace_of(hpa) or '<none>'}' rendered alongside",
        )
    ]


def _pdb(pdb: dict[str, Any], scope: Scope, where: str) -> list[Finding]:
    selector = (pdb.get("spec") or {}).get("selector")
    ns = namespace_of(pdb)
    if any(matches(selector, _pod_labels(w)) for w in scope.workloads[ns]):
        return []
    return [
        Finding(
            CHECK,
            where,
            obj_ref(pdb),
            f"selector {selector} matches no pod template",
            f"a workload in namespace '{ns or '<none>'}' whose pod labels match",
        )
    ]


def _service_monitor(
    sm: dict[str, Any], scope: Scope, where: str, cluster_wide: bool
) -> list[Finding]:
    spec = sm.get("spec") or {}
    own = namespace_of(sm)
    ns_selector = spec.get("namespaceSelector") or {}
    if ns_selector.get("any"):
        namespaces = scope.namespaces()
    else:
        namespaces = set(ns_selector.get("matchNames") or [own])
    if not cluster_wide and namespaces - {own}:
        return []  # selects other namespaces: checked on the whole cluster's output
    services = [
        s
        for ns in namespaces
        for s in scope.services[ns]
        if matches(spec.get("selector") or {}, labels_of(s))
    ]
    if not services:
        return [
            Finding(
                CHECK,
                where,
                obj_ref(sm),
                f"selector {spec.get('selector')} matches no Service in {sorted(namespaces)}",
                "a Service whose labels match the ServiceMonitor selector",
            )
        ]
    findings = []
    port_names = {p.get("name") for s in services for p in (s.get("spec") or {}).get("ports") or []}
    for endpoint in spec.get("endpoints") or []:
        if "port" in endpoint and endpoint["port"] not in port_names:
            findings.append(
                Finding(
                    CHECK,
                    where,
                    obj_ref(sm),
                    f"endpoint port {endpoint['port']!r} is not a port name of the selected "
                    "Services",
                    f"one of {sorted(n for n in port_names if n)} (ServiceMonitor ports are "
                    "Service port NAMES)",
                )
            )
    return findings
