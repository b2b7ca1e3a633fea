"""The built-in PersistentVolumeClaim check, ported from
gitops-engine/pkg/health/health_pvc.go at argoproj/argo-cd v3.5.1."""

from __future__ import annotations

from gitops.simulation.health.builtin.typed import Typed, converted
from gitops.simulation.health.status import Health, HealthStatus

_BY_PHASE = {
    "Lost": HealthStatus.DEGRADED,
    "Pending": HealthStatus.PROGRESSING,
    "Bound": HealthStatus.HEALTHY,
}


@converted("PersistentVolumeClaim", "v1")
def persistent_volume_claim(pvc: Typed, _version: str) -> Health:
    """health_pvc.go getCorev1PVCHealth: by phase, Unknown for any other; no message."""
    return Health(_BY_PHASE.get(pvc.child("status").text("phase"), HealthStatus.UNKNOWN))
