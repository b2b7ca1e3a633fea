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

Not modelled: DaemonSets (one pod per node; the node count is not in the tree), quotas with
scopes, CronJob runs overlapping (concurrencyPolicy Allow), and pods still terminating during a
rollout (they count against the quota until they are gone).

Findings are per cluster (`where` is the Application of the object the finding starts
with), so the same fault on Kind and EKS is reported for each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from itertools import pairwise
from typing import Any

from gitops.checks import Context, register
from gitops.tree.app_tree import App, ClusterTree
from gitops.tree.findings import Finding, labels_of, name_of, namespace_of, obj_ref
from gitops.tree.selectors import matches, pod_template

CHECK = "capacity"
RESOURCES = ("cpu", "memory")
KEYS = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory")
QUOTA_KEYS = {"cpu": "requests.cpu", "memory": "requests.memory", "pods": "pods"} | {
    k: k for k in KEYS
}
DEFAULT_MAX_SURGE = "25%"
SCALABLE = ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController")

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": 1}
_DECIMAL |= {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))"
    r"(?:(?P<exponent>[eE][+-]?\d+)|(?P<suffix>[KMGTPE]i|[numkMGTPE])?)$"
)


def parse_quantity(value: Any) -> Fraction:
    """A Kubernetes quantity ("250m", "1.5Gi", "2", "1e3") as an exact number, per
    https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
    (1Ki = 1024, 1k = 1000, m = 1/1000). YAML numbers (cpu: 2, cpu: 0.5) are accepted."""
    match = _QUANTITY.match(str(value).strip())
    if match is None or isinstance(value, bool):
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    try:
        number = Fraction(Decimal(match["number"]))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(f"{value!r} is not a Kubernetes quantity") from None
    if match["exponent"]:
        return number * Fraction(10) ** int(match["exponent"][1:])
    suffix = match["suffix"] or ""
    return number * (_BINARY[suffix] if suffix in _BINARY else _DECIMAL[suffix])


def format_quantity(value: Fraction, key: str) -> str:
    """`value` the way a manifest would write it: 8448Mi, 11Gi, 2750m, 12."""
    if "memory" in key and value.denominator == 1 and value:
        for suffix, factor in reversed(_BINARY.items()):
            if value % factor == 0:
                return f"{value // factor}{suffix}"
    if value.denominator == 1:
        return str(value.numerator)
    milli = value * 1000
    return f"{milli.numerator}m" if milli.denominator == 1 else str(float(value))


def scaled(value: Any, total: int, *, round_up: bool) -> int:
    """An IntOrString count: absolute, or a percentage of `total` rounded up or down."""
    text = str(value).strip()
    if text.endswith("%"):
        whole, rest = divmod(int(text[:-1]) * total, 100)
        return whole + (1 if round_up and rest else 0)
    return int(text)


def max_surge(deployment: dict[str, Any], replicas: int) -> int:
    """Extra pods a rolling update may start above `replicas` (0 for Recreate)."""
    strategy = (deployment.get("spec") or {}).get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", DEFAULT_MAX_SURGE)
    return scaled(surge, replicas, round_up=True)


@dataclass(frozen=True)
class Peak:
    pods: int
    why: str  # e.g. "HPA inference-service maxReplicas 10 + maxSurge 1"


def peak_pods(workload: dict[str, Any], hpa: dict[str, Any] | None) -> Peak | None:
    """The most pods `workload` runs at once; None when the tree cannot tell (DaemonSet)."""
    kind, spec = workload.get("kind"), workload.get("spec") or {}
    if kind in SCALABLE:
        if hpa is not None:
            replicas = int((hpa.get("spec") or {}).get("maxReplicas", 1))
            source = f"HPA {name_of(hpa)} maxReplicas {replicas}"
        else:
            replicas = int(spec.get("replicas", 1))
            source = f"replicas {replicas}"
        if kind != "Deployment":
            return Peak(replicas, source)
        strategy = spec.get("strategy") or {}
        if strategy.get("type") == "Recreate":
            return Peak(replicas, f"{source}, Recreate: no surge")
        raw = (strategy.get("rollingUpdate") or {}).get("maxSurge", DEFAULT_MAX_SURGE)
        surge = max_surge(workload, replicas)
        shown = f"{raw} = {surge}" if str(raw).endswith("%") else str(surge)
        return Peak(replicas + surge, f"{source} + maxSurge {shown}")
    if kind in ("Job", "CronJob"):
        job = spec if kind == "Job" else (spec.get("jobTemplate") or {}).get("spec") or {}
        parallelism = int(job.get("parallelism", 1))
        completions = job.get("completions")
        if completions is not None and int(completions) < parallelism:
            return Peak(int(completions), f"completions {completions} < parallelism")
        return Peak(parallelism, f"parallelism {parallelism}")
    if kind == "Pod":
        return Peak(1, "a bare Pod")
    return None


@dataclass(frozen=True)
class Defaults:
    """The Container item of a namespace's LimitRange, after the API's own defaulting."""

    request: dict[str, Fraction] = field(default_factory=dict)
    limit: dict[str, Fraction] = field(default_factory=dict)
    minimum: dict[str, Fraction] = field(default_factory=dict)
    maximum: dict[str, Fraction] = field(default_factory=dict)
    source: str = ""  # obj_ref of the LimitRange


def limit_range_defaults(item: dict[str, Any], source: str = "") -> Defaults:
    """SetDefaults_LimitRangeItem: default <- max, defaultRequest <- default, then min."""

    def amounts(key: str) -> dict[str, Fraction]:
        return {r: parse_quantity(v) for r, v in (item.get(key) or {}).items() if r in RESOURCES}

    maximum, minimum = amounts("max"), amounts("min")
    limit = maximum | amounts("default")
    request = minimum | limit | amounts("defaultRequest")
    return Defaults(request, limit, minimum, maximum, source)


def container_amounts(container: dict[str, Any], defaults: Defaults) -> dict[str, Fraction | None]:
    """What admission leaves in a container: its own values, a request copied from its own
    limit, else the LimitRange defaults; None when nothing sets it."""
    resources = container.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    out: dict[str, Fraction | None] = {}
    for r in RESOURCES:
        limit = parse_quantity(limits[r]) if r in limits else defaults.limit.get(r)
        request = parse_quantity(requests[r]) if r in requests else None
        if request is None:
            request = parse_quantity(limits[r]) if r in limits else defaults.request.get(r)
        out[f"requests.{r}"], out[f"limits.{r}"] = request, limit
    return out


@dataclass(frozen=True)
class PodAmounts:
    amounts: dict[str, Fraction]  # effective per-pod request/limit by quota key
    missing: dict[str, list[str]]  # quota key -> containers nothing sets it for


def pod_amounts(pod_spec: dict[str, Any], defaults: Defaults) -> PodAmounts:
    """Effective pod requests/limits (init containers run one at a time, sidecars stay)."""
    inits = [(c, container_amounts(c, defaults)) for c in pod_spec.get("initContainers") or []]
    apps = [(c, container_amounts(c, defaults)) for c in pod_spec.get("containers") or []]
    amounts: dict[str, Fraction] = {}
    missing: dict[str, list[str]] = {}
    for key in KEYS:
        lacking = [str(c.get("name")) for c, a in inits + apps if a[key] is None]
        if lacking:
            missing[key] = lacking
        sidecars, init_peak = Fraction(0), Fraction(0)
        for container, values in inits:
            value = values[key] or Fraction(0)
            if container.get("restartPolicy") == "Always":
                sidecars += value
            else:
                init_peak = max(init_peak, value + sidecars)
        running = sum((a[key] or Fraction(0) for _, a in apps), Fraction(0)) + sidecars
        amounts[key] = max(running, init_peak)
    return PodAmounts(amounts, missing)


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
