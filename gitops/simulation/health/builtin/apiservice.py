"""The built-in APIService check, ported from gitops-engine/pkg/health/health_apiservice.go at
argoproj/argo-cd v3.5.1 (apiregistration.k8s.io v1 and v1beta1 read alike)."""

from __future__ import annotations

from gitops.simulation.health.builtin.typed import Typed, converted
from gitops.simulation.health.status import Health, HealthStatus


@converted("APIService", "apiregistration.k8s.io/v1", "apiregistration.k8s.io/v1beta1")
def api_service(obj: Typed, _version: str) -> Health:
    """The first Available condition decides: "True" is Healthy, anything else Progressing,
    with "<reason>: <message>"; none yet is Progressing."""
    for condition in obj.child("status").items("conditions"):
        if condition.text("type") == "Available":
            said = f"{condition.text('reason')}: {condition.text('message')}"
            if condition.text("status") == "True":
                return Health(HealthStatus.HEALTHY, said)
            return Health(HealthStatus.PROGRESSING, said)
    return Health(HealthStatus.PROGRESSING, "Waiting to be processed")
