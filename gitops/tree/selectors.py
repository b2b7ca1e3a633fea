"""Kubernetes label selectors and the pod templates workloads carry."""

from __future__ import annotations

from typing import Any

# kind -> path to the pod template spec holder (the object that has `metadata` and `spec`)
_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


def pod_template(obj: dict[str, Any]) -> dict[str, Any] | None:
    """`{metadata, spec}` of the pods `obj` creates (the Pod itself for a Pod)."""
    kind = obj.get("kind")
    if kind == "Pod":
        return obj
    path = _TEMPLATE_PATHS.get(str(kind))
    if path is None:
        return None
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        c
        for key in ("initContainers", "containers", "ephemeralContainers")
        for c in pod_spec.get(key) or []
    ]


def matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels/matchExpressions) against a label set; {} matches all."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def matches_map(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """A Service-style selector (plain map); an empty map selects nothing here."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())
