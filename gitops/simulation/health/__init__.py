"""Argo CD's health verdict on a resource and on an Application, computed offline the way
Argo CD v3.5.1 computes it: its own Lua checks run in Lua 5.1 (lua.py), its built-in Go checks
ported to Python (builtin/), in GetResourceHealth's order (assess.py), and the Application
aggregate of controller/health.go (application.py). See docs/gitops.md, "Health, as Argo CD
judges it".

    checks = HealthChecks(scripts_dir, overrides_from_argocd_cm(argocd_cm_data))
    checks.assess(deployment)  # Health(status=HealthStatus.PROGRESSING, message=...) or None
"""

from gitops.simulation.health.application import (
    ApplicationHealth,
    ManagedResource,
    application_health,
)
from gitops.simulation.health.argocd_cm import ArgoCdConfigError, overrides_from_argocd_cm
from gitops.simulation.health.assess import HealthChecks, assess
from gitops.simulation.health.lua import TIMEOUT_SECONDS, run_health_script
from gitops.simulation.health.lua_result import INVALID_STATUS, LuaScriptError
from gitops.simulation.health.scripts import MissingHealthScript, ResourceOverride
from gitops.simulation.health.status import Health, HealthStatus, is_worse

__all__ = [
    "INVALID_STATUS",
    "TIMEOUT_SECONDS",
    "ApplicationHealth",
    "ArgoCdConfigError",
    "Health",
    "HealthChecks",
    "HealthStatus",
    "LuaScriptError",
    "ManagedResource",
    "MissingHealthScript",
    "ResourceOverride",
    "application_health",
    "assess",
    "is_worse",
    "overrides_from_argocd_cm",
    "run_health_script",
]
