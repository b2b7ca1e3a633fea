"""The built-in Job check, ported from gitops-engine/pkg/health/health_job.go at
argoproj/argo-cd v3.5.1."""

from __future__ import annotations

from gitops.simulation.health.builtin.typed import Typed, converted
from gitops.simulation.health.status import Health, HealthStatus


@converted("Job", "batch/v1")
def job(obj: Typed, _version: str) -> Health:
    """health_job.go getBatchv1JobHealth. A Failed or Complete condition counts whatever its
    status; a Suspended one ends the wait, and suspends only when "True". The message is the
    last Complete/Suspended condition's; a suspended Job reports the (empty unless also
    failed) failure message, as the Go code does."""
    failed = complete = suspended = False
    fail_message = message = ""
    for condition in obj.child("status").items("conditions"):
        kind = condition.text("type")
        if kind == "Failed":
            failed = complete = True
            fail_message = condition.text("message")
        elif kind == "Complete":
            complete = True
            message = condition.text("message")
        elif kind == "Suspended":
            complete = True
            message = condition.text("message")
            suspended = suspended or condition.text("status") == "True"
    if not complete:
        return Health(HealthStatus.PROGRESSING, message)
    if failed:
        return Health(HealthStatus.DEGRADED, fail_message)
    if suspended:
        return Health(HealthStatus.SUSPENDED, fail_message)
    return Health(HealthStatus.HEALTHY, message)
