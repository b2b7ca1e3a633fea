"""One resource's health, decided in the order of gitops-engine/pkg/health/health.go
GetResourceHealth at argoproj/argo-cd v3.5.1: an object being deleted (and not held by the
hook finalizer) is Progressing; else a Lua check when one applies (an argocd-cm override, else
a built-in script, util/lua/lua.go GetHealthScript); else the kind's built-in Go check; else
no health at all (None), as for a ConfigMap or a Secret. A failing check is Unknown, with the
error."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from gitops.simulation.health.builtin import BuiltinError, builtin_check
from gitops.simulation.health.hooks import has_hook_finalizer
from gitops.simulation.health.lua import run_health_script
from gitops.simulation.health.lua_result import LuaScriptError
from gitops.simulation.health.scripts import ResourceOverride, ScriptFinder
from gitops.simulation.health.status import Health, HealthStatus
from gitops.simulation.health.unstructured import (
    JsonObject,
    config_map_key,
    group_version_kind,
    has_deletion_timestamp,
    name,
    namespace,
)


class HealthChecks:
    """Argo CD's health assessment as one installation runs it: the built-in Lua scripts in
    `scripts_dir` (laid out like resource_customizations/), the argocd-cm overrides (keyed
    "group/Kind", see argocd_cm.overrides_from_argocd_cm), the built-in Go checks."""

    def __init__(
        self, scripts_dir: Path, overrides: Mapping[str, ResourceOverride] | None = None
    ) -> None:
        self._scripts = ScriptFinder(scripts_dir, overrides or {})

    def assess(self, obj: JsonObject) -> Health | None:
        """GetResourceHealth. Raises scripts.MissingHealthScript for a kind Argo CD judges by a
        built-in script that `scripts_dir` lacks, and TypeError for an object that is not JSON."""
        if has_deletion_timestamp(obj) and not has_hook_finalizer(obj):
            return Health(HealthStatus.PROGRESSING, "Pending deletion")
        group, _version, kind = group_version_kind(obj)
        script = self._scripts.find(config_map_key(group, kind))
        if script is not None:
            try:
                return run_health_script(script.source, obj, open_libs=script.use_open_libs)
            except LuaScriptError as exc:
                where = f"{namespace(obj)}/{name(obj)}"
                error = f"failed to get resource health for {where}: {exc}"
                return Health(HealthStatus.UNKNOWN, str(exc), error=error)
        check = builtin_check(group, kind)
        if check is None:
            return None
        try:
            return check(obj)
        except BuiltinError as exc:
            return Health(HealthStatus.UNKNOWN, str(exc), error=str(exc))


def assess(
    obj: JsonObject,
    scripts_dir: Path,
    overrides: Mapping[str, ResourceOverride] | None = None,
) -> Health | None:
    """HealthChecks(scripts_dir, overrides).assess(obj), with the checks kept per arguments."""
    frozen = tuple(sorted((overrides or {}).items()))
    return _checks(scripts_dir, frozen).assess(obj)


@lru_cache(maxsize=16)
def _checks(scripts_dir: Path, overrides: tuple[tuple[str, ResourceOverride], ...]) -> HealthChecks:
    return HealthChecks(scripts_dir, dict(overrides))
