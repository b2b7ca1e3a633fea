"""The built-in Service and Ingress checks, ported from gitops-engine/pkg/health at
argoproj/argo-cd v3.5.1: health_service.go and health_ingress.go. Both wait for a load
balancer to report an address; neither has a message."""

from __future__ import annotations

from collections.abc import Mapping

from gitops.simulation.health.builtin.typed import Typed, converted
from gitops.simulation.health.status import Health, HealthStatus
from gitops.simulation.health.unstructured import JsonObject


@converted("Service", "v1")
def service(svc: Typed, _version: str) -> Health:
    """health_service.go getCorev1ServiceHealth: only a LoadBalancer Service waits, for an
    ingress entry in status.loadBalancer."""
    kind = svc.child("spec").text("type")
    addresses = svc.child("status").child("loadBalancer").items("ingress")
    if kind == "LoadBalancer" and not addresses:
        return Health(HealthStatus.PROGRESSING)
    return Health(HealthStatus.HEALTHY)


def ingress(obj: JsonObject) -> Health:
    """health_ingress.go getIngressHealth, for every apiVersion of extensions and
    networking.k8s.io: status.loadBalancer.ingress read with unstructured.NestedSlice (no
    conversion, a field of another type reads as absent)."""
    found: object = obj
    for key in ("status", "loadBalancer", "ingress"):
        found = found.get(key) if isinstance(found, Mapping) else None
    if isinstance(found, list) and found:
        return Health(HealthStatus.HEALTHY)
    return Health(HealthStatus.PROGRESSING)
