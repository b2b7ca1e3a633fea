"""What pods and workloads cost: Kubernetes quantities, LimitRange defaulting, a pod's
effective requests and limits, and how many pods a workload runs at its peak.

Shared by the `capacity` check (quotas hold at the peak) and the sync simulation (the quota
admission of each pod). The Kubernetes behaviour and where it is documented: see the
`capacity` check's docstring (gitops/checks/capacity.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from gitops.tree.findings import name_of

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
