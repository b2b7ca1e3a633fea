"""Which Lua health check, if any, Argo CD runs for a kind, and whether the script gets Lua's
standard libraries. Models util/lua/lua.go GetHealthScript at argoproj/argo-cd v3.5.1: an
argocd-cm override for the exact "group/Kind" key, then the first override whose key matches
it as a glob, then the built-in resource_customizations/<group>/<Kind>/health.lua, then a
built-in wildcard folder. Built-in scripts run with the standard libraries, an override only
with its useOpenLibs.

The built-in scripts come from a folder laid out like resource_customizations/ (taken as a
parameter). Argo CD embeds every script; a folder may hold only some, so a kind Argo CD judges
by a built-in script (upstream_health_scripts.txt) that the folder lacks raises
MissingHealthScript instead of silently falling back to a Go check or to no health."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gitops.simulation.health.globs import folder_wildcard, gobwas_match

SCRIPT_FILE = "health.lua"
_UPSTREAM_LIST = Path(__file__).with_name("upstream_health_scripts.txt")


@dataclass(frozen=True)
class ResourceOverride:
    """The health part of an argocd-cm resource customization (v1alpha1.ResourceOverride's
    health.lua and health.lua.useOpenLibs)."""

    health_lua: str = ""
    use_open_libs: bool = False


@dataclass(frozen=True)
class HealthScript:
    """A Lua check chosen for a kind: its source, whether it gets the standard libraries, and
    where it came from (an argocd-cm key or a file), for messages."""

    source: str
    use_open_libs: bool
    origin: str


class MissingHealthScript(LookupError):
    """Argo CD v3.5.1 has a built-in health.lua for the kind, and the scripts folder lacks it."""


class ScriptFinder:
    """GetHealthScript for one Argo CD: its argocd-cm overrides and its built-in scripts."""

    def __init__(self, scripts_dir: Path, overrides: Mapping[str, ResourceOverride]) -> None:
        self._dir = scripts_dir
        self._overrides = dict(overrides)
        self._found: dict[str, HealthScript | None] = {}
        self._wildcards = sorted(
            str(path.parent.relative_to(scripts_dir))
            for path in scripts_dir.glob(f"*/*/{SCRIPT_FILE}")
            if "_" in str(path.parent.relative_to(scripts_dir))
        )

    def find(self, key: str) -> HealthScript | None:
        """The script for a config map key ("group/Kind", or "Kind" in the core group)."""
        if key not in self._found:
            self._found[key] = self._lookup(key)
        return self._found[key]

    def _lookup(self, key: str) -> HealthScript | None:
        exact = self._overrides.get(key)
        if exact is not None and exact.health_lua:
            return HealthScript(exact.health_lua, exact.use_open_libs, f"argocd-cm {key}")
        # Go ranges over a map here, so with two matching wildcards Argo CD's choice is random;
        # this takes them in key order.
        for pattern in sorted(self._overrides):
            override = self._overrides[pattern]
            if override.health_lua and gobwas_match(pattern, key):
                return HealthScript(
                    override.health_lua, override.use_open_libs, f"argocd-cm {pattern}"
                )
        path = self._dir / key / SCRIPT_FILE
        if path.is_file():
            return HealthScript(path.read_text(encoding="utf-8"), True, str(path))
        for folder in self._wildcards:
            if folder_wildcard(folder).fullmatch(key):
                path = self._dir / folder / SCRIPT_FILE
                return HealthScript(path.read_text(encoding="utf-8"), True, str(path))
        upstream = upstream_script_for(key)
        if upstream is not None:
            raise MissingHealthScript(
                f"Argo CD v3.5.1 judges {key} with resource_customizations/{upstream}/"
                f"{SCRIPT_FILE}, which {self._dir} does not hold"
            )
        return None


def upstream_script_for(key: str) -> str | None:
    """The resource_customizations folder whose health.lua Argo CD v3.5.1 runs for a key."""
    exact, wildcards = _upstream()
    if key in exact:
        return key
    return next((w for w in wildcards if folder_wildcard(w).fullmatch(key)), None)


@cache
def _upstream() -> tuple[frozenset[str], tuple[str, ...]]:
    lines = _UPSTREAM_LIST.read_text(encoding="utf-8").splitlines()
    folders = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return frozenset(folders), tuple(sorted(f for f in folders if "_" in f))
