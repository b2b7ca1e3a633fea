"""Argo CD's health verdict: the status codes, one resource's health, and which status is worse.

Models gitops-engine/pkg/health/health.go at argoproj/argo-cd v3.5.1 (HealthStatusCode,
HealthStatus, healthOrder, IsWorse)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HealthStatus(StrEnum):
    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    SUSPENDED = "Suspended"
    MISSING = "Missing"
    UNKNOWN = "Unknown"
    # Argo CD's empty HealthStatus{}: what a Lua check yields when it returns nothing, an empty
    # table or a table whose fields are not strings (util/lua/lua.go, ExecuteHealthLua). It is
    # never Healthy, so a sync waits on it, and IsWorse ranks it with Healthy.
    EMPTY = ""


# health.go's healthOrder: most healthy first.
_RANK = {
    status: rank
    for rank, status in enumerate(
        (
            HealthStatus.HEALTHY,
            HealthStatus.SUSPENDED,
            HealthStatus.PROGRESSING,
            HealthStatus.MISSING,
            HealthStatus.DEGRADED,
            HealthStatus.UNKNOWN,
        )
    )
}


@dataclass(frozen=True)
class Health:
    """One resource's health as Argo CD reports it (health.go's HealthStatus)."""

    status: HealthStatus
    message: str = ""
    # Set when Argo CD's GetResourceHealth also returned an error (a Lua check that failed, a
    # built-in check that could not read the object): the sync then leaves the resource
    # running, and the Application's health carries the error (controller/health.go).
    error: str | None = None


def is_worse(current: str, new: str) -> bool:
    """health.go's IsWorse: `new` ranks below `current`; a code outside healthOrder (the empty
    status) ranks with Healthy, as its loop leaves the index at 0."""
    return _RANK.get(new, 0) > _RANK.get(current, 0)
