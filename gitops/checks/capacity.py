"""`capacity`: each namespace's ResourceQuota holds its workloads at their peak, its
LimitRange is admissible and fits the quota, and its PodDisruptionBudgets let a drain evict.

Per cluster tree and namespace, from what the Applications render together (the tenant kit
brings the ResourceQuota and LimitRange, the workload Application the Deployment, HPA and
PDB). The Kubernetes behaviour modelled, and where it is documented:

- Quantities are exact decimals with the suffixes n u m "" k M G T P E, Ki Mi Gi Ti Pi Ei, or
  a decimal exponent (1e3): https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
- A Deployment's rolling update runs up to replicas + maxSurge pods; maxSurge is absolute or
  a percentage of the desired replicas, "calculated from the percentage by rounding up", and
  defaults to 25%; `Recreate` stops the old pods first (no surge):
  https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#max-surge
  With an HPA the desired count can reach maxReplicas. StatefulSets replace pods in place
  (replicas, no surge); a Job runs min(parallelism, completions) pods (parallelism default 1).
- A pod is charged its effective request/limit: the larger of (app containers + sidecars)
  and the highest init container plus the sidecars started before it:
  https://kubernetes.io/docs/concepts/resource-management/effective-pod-requests-limits/
- A container without a limit gets the LimitRange `default`, without a request its own limit
  or else `defaultRequest` (https://kubernetes.io/docs/concepts/policy/limit-range/ and
  .../configuration/manage-resources-containers/); the API defaults an unset `default` to
  `max` and an unset `defaultRequest` to `default`, then `min` (SetDefaults_LimitRangeItem),
  and rejects a LimitRange whose min <= defaultRequest <= default <= max does not hold.
- A quota on requests.cpu/limits.memory/... rejects pods whose containers set no such
  value; `cpu`/`memory` in `hard` mean requests:
  https://kubernetes.io/docs/concepts/policy/resource-quotas/
- A PDB's percentages round up; minAvailable >= the pods that exist, or a maxUnavailable of
  0, allows no voluntary eviction, so a node drain blocks:
  https://kubernetes.io/docs/tasks/run-application/configure-pdb/#rounding-logic-when-specifying-percentages
- A container using more memory than its limit is killed (OOMKilled):
  https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#requests-and-limits
  Each inference Deployment's container limit must hold what the models it serves need
  (inference.contracts.tenant_models.memory_needed: the service, each model's class, twice
  with a rollout policy, and one more version of the largest class for a swap), the models
  being those of the tenant's models.yaml it mounts that its MODEL_DEPLOYMENT serves
  (gitops/tree/tenant_models.py). A tenant's dedicated Deployments are workloads of its
  namespace like the shared one, so the quota rules above count them at their own ceilings.

Not modelled: DaemonSets (one pod per node; the node count is not in the tree), quotas with
scopes, CronJob runs overlapping (concurrencyPolicy Allow), and pods still terminating during a
rollout (they count against the quota until they are gone).

Findings are per cluster (`where` is the Application of the object the finding starts
with), so the same fault on Kind and EKS is reported for each.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise
from typing import Any

from gitops.checks import Context, register
from gitops.tree.app_tree import App, ClusterTree
from gitops.tree.findings import Finding, labels_of, name_of, namespace_of, obj_ref
from gitops.tree.pod_resources import (
    QUOTA_KEYS,
    RESOURCES,
    SCALABLE,
    Defaults,
    Peak,
    PodAmounts,
    container_amounts,
    format_quantity,
    limit_range_defaults,
    parse_quantity,
    peak_pods,
    pod_amounts,
    scaled,
)
from gitops.tree.selectors import matches, pod_template
from gitops.tree.tenant_models import configmaps_by_name, inference_workloads
from inference.contracts.tenant_models import (
    SERVICE_BASE_BYTES,
    ModelEntry,
    ModelsError,
    memory_needed,
)

CHECK = "capacity"


@dataclass
class Namespace:
    cluster: str
    name: str
    objects: list[tuple[App, dict[str, Any]]] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[tuple[App, dict[str, Any]]]:
        return [(a, o) for a, o in self.objects if o.get("kind") == kind]

    def workloads(self) -> list[tuple[App, dict[str, Any]]]:
        return [(a, o) for a, o in self.objects if pod_template(o) is not None]

    def hpa_for(self, workload: dict[str, Any]) -> dict[str, Any] | None:
        for _, hpa in self.of_kind("HorizontalPodAutoscaler"):
            ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            if ref.get("kind") == workload.get("kind") and ref.get("name") == name_of(workload):
                return hpa
        return None


def _namespaces(tree: ClusterTree) -> list[Namespace]:
    spaces: dict[str, Namespace] = {}
    seen: set[tuple[str, str, str]] = set()
    for app in tree.apps:
        for obj in app.objects:
            ns = namespace_of(obj)
            key = (str(obj.get("kind")), ns, name_of(obj))
            if ns and key not in seen:
                seen.add(key)
                spaces.setdefault(ns, Namespace(tree.cluster, ns)).objects.append((app, obj))
    return [spaces[n] for n in sorted(spaces)]


@register(CHECK, "quotas hold every workload at its HPA ceiling + surge; LimitRanges and PDBs work")
def check(ctx: Context) -> Iterator[Finding]:
    for tree in ctx.trees:
        for space in _namespaces(tree):
            try:
                yield from _check_namespace(space)
            except ValueError as exc:  # an unparsable quantity or count
                yield Finding(
                    CHECK, tree.cluster, "", f"namespace {space.name}: {exc}", "valid quantities"
                )


def _check_namespace(space: Namespace) -> Iterator[Finding]:
    defaults = Defaults()
    for app, limit_range in space.of_kind("LimitRange"):
        for i, item in enumerate((limit_range.get("spec") or {}).get("limits") or []):
            if item.get("type") == "Container":
                yield from _limit_range_order(app, limit_range, i, item)
                if not defaults.source:
                    defaults = limit_range_defaults(item, obj_ref(limit_range))
    demands = []
    for app, workload in space.workloads():
        peak = peak_pods(workload, space.hpa_for(workload))
        spec = (pod_template(workload) or {}).get("spec") or {}
        amounts = pod_amounts(spec, defaults)
        yield from _within_limit_range(app, workload, spec, defaults)
        if peak is not None and peak.pods:
            demands.append((workload, peak, amounts))
    for app, quota in space.of_kind("ResourceQuota"):
        spec = quota.get("spec") or {}
        if spec.get("scopes") or spec.get("scopeSelector"):
            continue  # scoped quotas charge a subset of pods: not modelled
        yield from _defaults_fit(app, quota, defaults)
        for hard_key, raw in (spec.get("hard") or {}).items():
            if hard_key in QUOTA_KEYS:
                yield from _quota(app, quota, hard_key, raw, demands)
    yield from _pdbs(space)
    yield from _model_memory(space, defaults)


def _quota(
    app: App,
    quota: dict[str, Any],
    hard_key: str,
    raw: Any,
    demands: list[tuple[dict[str, Any], Peak, PodAmounts]],
) -> Iterator[Finding]:
    key = QUOTA_KEYS[hard_key]
    total, terms = Fraction(0), []
    for workload, peak, pod in demands:
        what = f"{workload.get('kind')} {name_of(workload)}: {peak.why}"
        plural = "s" if peak.pods != 1 else ""
        if key == "pods":
            total += peak.pods
            terms.append(f"{peak.pods} pod{plural} ({what})")
            continue
        if key in pod.missing:
            yield Finding(
                CHECK,
                app.where,
                "",
                f"{obj_ref(quota)}: {hard_key} is limited, but container(s) "
                f"{', '.join(pod.missing[key])} of {obj_ref(workload)} set no {key} and no "
                "LimitRange default applies: the quota rejects every pod",
                f"resources.{key} on every container, or a LimitRange default",
            )
            continue
        per = pod.amounts[key]
        total += peak.pods * per
        terms.append(f"{peak.pods} pod{plural} x {format_quantity(per, key)} ({what})")
    hard = parse_quantity(raw)
    if total > hard:
        yield Finding(
            CHECK,
            app.where,
            "",
            f"{obj_ref(quota)}: {hard_key} {raw} < {format_quantity(total, key)} = "
            + " + ".join(terms),
            f"spec.hard.{hard_key} >= {format_quantity(total, key)} (every workload at its "
            "ceiling while rolling out), or fewer or smaller pods",
        )


def _limit_range_order(
    app: App, limit_range: dict[str, Any], index: int, item: dict[str, Any]
) -> Iterator[Finding]:
    """min <= defaultRequest <= default <= max, as the API server validates it."""
    d = limit_range_defaults(item)
    chain = (("min", d.minimum), ("defaultRequest", d.request), ("default", d.limit))
    chain += (("max", d.maximum),)
    for r in RESOURCES:
        present = [(label, values[r]) for label, values in chain if r in values]
        for (low_label, low), (high_label, high) in pairwise(present):
            if low > high:
                yield Finding(
                    CHECK,
                    app.where,
                    "",
                    f"{obj_ref(limit_range)}: limits[{index}] (Container) {low_label} {r} "
                    f"{format_quantity(low, r)} > {high_label} {r} {format_quantity(high, r)}",
                    "min <= defaultRequest <= default <= max (the API server rejects the "
                    "LimitRange otherwise; unset defaults follow max, then default)",
                )


def _defaults_fit(app: App, quota: dict[str, Any], defaults: Defaults) -> Iterator[Finding]:
    """One pod of one container relying on the LimitRange defaults must fit the quota."""
    hard = (quota.get("spec") or {}).get("hard") or {}
    for hard_key, raw in hard.items():
        key = QUOTA_KEYS.get(hard_key, "")
        kind, _, r = key.partition(".")
        value = (defaults.request if kind == "requests" else defaults.limit).get(r)
        if r and value is not None and value > parse_quantity(raw):
            label = "defaultRequest" if kind == "requests" else "default"
            yield Finding(
                CHECK,
                app.where,
                "",
                f"{defaults.source}: {label} {r} {format_quantity(value, r)} > "
                f"{obj_ref(quota)} {hard_key} {raw}: a pod relying on the defaults never fits",
                f"{label} {r} <= {raw}",
            )


def _within_limit_range(
    app: App, workload: dict[str, Any], spec: dict[str, Any], defaults: Defaults
) -> Iterator[Finding]:
    """LimitRanger rejects a container outside [min, max] (or without a limit under max)."""
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        values = container_amounts(container, defaults)
        for r in RESOURCES:
            request, limit = values[f"requests.{r}"], values[f"limits.{r}"]
            problems = []
            top, low = defaults.maximum.get(r), defaults.minimum.get(r)
            if top is not None:
                if limit is None:
                    problems.append(f"has no limit under max {format_quantity(top, r)}")
                elif limit > top:
                    problems.append(
                        f"limit {format_quantity(limit, r)} > max {format_quantity(top, r)}"
                    )
                elif request is not None and request > top:
                    problems.append(
                        f"request {format_quantity(request, r)} > max {format_quantity(top, r)}"
                    )
            if low is not None and (request is None or request < low):
                shown = format_quantity(request, r) if request is not None else "none"
                problems.append(f"request {shown} < min {format_quantity(low, r)}")
            for problem in problems:
                yield Finding(
                    CHECK,
                    app.where,
                    "",
                    f"{obj_ref(workload)}: container {container.get('name')} {r} {problem} of "
                    f"{defaults.source}: admission rejects every pod",
                    "container resources within the LimitRange min and max",
                )


def _pdbs(space: Namespace) -> Iterator[Finding]:
    scalable = [w for _, w in space.workloads() if w.get("kind") in SCALABLE]
    for app, pdb in space.of_kind("PodDisruptionBudget"):
        spec = pdb.get("spec") or {}
        selected = [w for w in scalable if matches(spec.get("selector"), _pod_labels(w))]
        floors = [_floor(w, space.hpa_for(w)) for w in selected]
        expected = sum(n for n, _ in floors)
        if not expected:
            continue  # selects nothing (crossrefs reports it) or nothing runs
        why = " + ".join(
            f"{w.get('kind')} {name_of(w)}: {text}"
            for w, (_, text) in zip(selected, floors, strict=True)
        )
        if "minAvailable" in spec:
            need = scaled(spec["minAvailable"], expected, round_up=True)
            if need >= expected:
                yield Finding(
                    CHECK,
                    app.where,
                    "",
                    f"{obj_ref(pdb)}: minAvailable {spec['minAvailable']} >= {expected} pod(s) "
                    f"at the floor ({why}): no pod may ever be evicted, a node drain blocks",
                    f"minAvailable < {expected}, or maxUnavailable >= 1",
                )
        unavailable = spec.get("maxUnavailable")
        if unavailable is not None and scaled(unavailable, expected, round_up=True) < 1:
            yield Finding(
                CHECK,
                app.where,
                "",
                f"{obj_ref(pdb)}: maxUnavailable {spec['maxUnavailable']} of {expected} "
                f"pod(s) ({why}) allows no eviction: a node drain blocks",
                "maxUnavailable >= 1",
            )


def _floor(workload: dict[str, Any], hpa: dict[str, Any] | None) -> tuple[int, str]:
    """The fewest pods `workload` runs: HPA minReplicas (default 1), else replicas."""
    if hpa is not None:
        low = int((hpa.get("spec") or {}).get("minReplicas", 1))
        return low, f"HPA {name_of(hpa)} minReplicas {low}"
    replicas = int((workload.get("spec") or {}).get("replicas", 1))
    return replicas, f"replicas {replicas}"


def _pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return labels_of(pod_template(workload) or {})


def _model_memory(space: Namespace, defaults: Defaults) -> Iterator[Finding]:
    """Each inference Deployment's memory limit holds the models it serves."""
    objects = [o for _, o in space.objects]
    apps = {id(o): a for a, o in space.objects}
    configmaps = configmaps_by_name(objects)
    for workload in inference_workloads(objects):
        try:
            models = workload.declaration(configmaps, None).served_by(workload.serving.deployment)
        except ModelsError:
            continue  # the tenant-models check reports what cannot be read or served
        limit = container_amounts(workload.container, defaults)["limits.memory"]
        needed = Fraction(memory_needed(models))
        if limit is None or limit >= needed:
            continue
        yield Finding(
            CHECK,
            apps[id(workload.workload)].where,
            "",
            f"{obj_ref(workload.workload)}: container {workload.container.get('name')} memory "
            f"limit {format_quantity(limit, 'memory')} < {format_quantity(needed, 'memory')} "
            f"that its models need ({_needs(models)}): the pod is killed as they load",
            f"resources.limits.memory >= {format_quantity(needed, 'memory')}, or fewer or "
            "smaller models on this Deployment (docs/models.md, what a model costs)",
        )


def _needs(models: tuple[ModelEntry, ...]) -> str:
    """memory_needed, term by term."""
    terms = [f"the service {format_quantity(Fraction(SERVICE_BASE_BYTES), 'memory')}"]
    for model in models:
        size = format_quantity(Fraction(model.memory_bytes), "memory")
        twice = " x 2 (stable and candidate: a rollout policy)" if model.rollout else ""
        terms.append(f"{model.name} {model.resources} {size}{twice}")
    if models:
        largest = max(models, key=lambda m: m.memory_bytes)
        size = format_quantity(Fraction(largest.memory_bytes), "memory")
        terms.append(f"one swap of the largest, {size}")
    return " + ".join(terms)
