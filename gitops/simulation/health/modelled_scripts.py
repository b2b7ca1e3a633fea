"""Two of Argo CD's built-in Lua checks, modelled in Python for where the pinned scripts folder
lacks them: the offline mirror this repository validates against holds the scripts of the
custom kinds it deploys, and these two are for built-in kinds (a chart's CRDs, the tenants'
PodDisruptionBudgets). Each function follows its script at argoproj/argo-cd v3.5.1 line by
line; the sha256 is that of the script modelled. When the folder has the script, Argo CD's own
Lua runs instead (assess.py), and these are not used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gitops.simulation.health.status import Health, HealthStatus

SCRIPTS = {
    # resource_customizations/policy/PodDisruptionBudget/health.lua
    "policy/PodDisruptionBudget": (
        "ac20a1450899df69bf34cac600bfca9eab858ab23eca9428a0e3a7cdf89dc0e0"
    ),
    # resource_customizations/apiextensions.k8s.io/CustomResourceDefinition/health.lua
    "apiextensions.k8s.io/CustomResourceDefinition": (
        "7dee7c737028e9d267977ac3734f7d564ad10dfade0ceb816ac257dc6502a6e8"
    ),
}


def _conditions(obj: dict[str, Any]) -> list[dict[str, Any]] | None:
    status = obj.get("status")
    if status is None:
        return None
    return status.get("conditions")


def pod_disruption_budget(obj: dict[str, Any]) -> Health:
    """Progressing without conditions; a False condition Degraded, unless its reason is
    InsufficientPods (argo-cd issue 20171); else Healthy; the message names the reason."""
    health = Health(HealthStatus.PROGRESSING, "Waiting for status")
    for condition in _conditions(obj) or []:
        reason = str(condition.get("reason", ""))
        if condition.get("status") == "False" and reason != "InsufficientPods":
            return Health(HealthStatus.DEGRADED, f"PodDisruptionBudget has {reason}")
        health = Health(HealthStatus.HEALTHY, f"PodDisruptionBudget has {reason}")
    return health


def custom_resource_definition(obj: dict[str, Any]) -> Health:
    if (obj.get("metadata") or {}).get("deletionTimestamp") is not None:
        return Health(HealthStatus.PROGRESSING, "CRD is terminating")
    conditions = _conditions(obj)
    if not conditions:
        return Health(HealthStatus.PROGRESSING, "Status conditions not found")
    established = False
    for condition in conditions:
        kind, status = condition.get("type"), condition.get("status")
        message = str(condition.get("message", ""))
        if kind == "Terminating" and status == "True":
            return Health(HealthStatus.PROGRESSING, f"CRD is terminating: {message}")
        if kind == "NamesAccepted" and status == "False":
            return Health(HealthStatus.DEGRADED, f"CRD names have not been accepted: {message}")
        if kind == "NonStructuralSchema" and status == "True":
            return Health(HealthStatus.DEGRADED, f"Schema violations found: {message}")
        if kind == "Established":
            if status == "True":
                established = True
            elif condition.get("reason") == "Installing":
                return Health(HealthStatus.PROGRESSING, "CRD is being installed")
    if not established:
        return Health(HealthStatus.DEGRADED, "CRD is not established")
    return Health(HealthStatus.HEALTHY, "CRD is healthy")


MODELLED: dict[str, Callable[[dict[str, Any]], Health]] = {
    "policy/PodDisruptionBudget": pod_disruption_budget,
    "apiextensions.k8s.io/CustomResourceDefinition": custom_resource_definition,
}
