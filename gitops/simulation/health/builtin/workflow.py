"""The built-in Argo Workflows check, ported from gitops-engine/pkg/health/health_argo.go at
argoproj/argo-cd v3.5.1."""

from __future__ import annotations

from collections.abc import Mapping

from gitops.simulation.health.status import Health, HealthStatus
from gitops.simulation.health.unstructured import JsonObject

_BY_PHASE = {
    "": HealthStatus.PROGRESSING,
    "Pending": HealthStatus.PROGRESSING,
    "Running": HealthStatus.PROGRESSING,
    "Succeeded": HealthStatus.HEALTHY,
    "Failed": HealthStatus.DEGRADED,
    "Error": HealthStatus.DEGRADED,
}


def workflow(obj: JsonObject) -> Health:
    """getArgoWorkflowHealth: status.phase and status.message read with
    unstructured.NestedString (no conversion: a field of another type reads as empty)."""
    status = obj.get("status")
    status = status if isinstance(status, Mapping) else {}
    phase, message = status.get("phase"), status.get("message")
    phase = phase if isinstance(phase, str) else ""
    message = message if isinstance(message, str) else ""
    return Health(_BY_PHASE.get(phase, HealthStatus.UNKNOWN), message)
