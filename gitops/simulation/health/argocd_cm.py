"""The health checks an argocd-cm ConfigMap's data installs, read as Argo CD v3.5.1 reads them
(util/settings/settings.go GetResourceOverrides): the YAML of `resource.customizations`
first, then every split key `resource.customizations.<type>.<group_Kind>` on top of it
("health" sets the script, "useOpenLibs" its libraries; "all" means every kind, "*/*")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import yaml

from gitops.simulation.health.scripts import ResourceOverride

_PREFIX = "resource.customizations"
# settings.go appendResourceOverridesFromSplitKeys: the types it accepts; only two are health.
_OTHER_TYPES = ("actions", "ignoreDifferences", "ignoreResourceUpdates", "knownTypeFields")
# Go's strconv.ParseBool.
_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True}
_BOOLS.update({"0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False})


class ArgoCdConfigError(ValueError):
    """argocd-cm holds a customization Argo CD refuses (it then loads no overrides at all)."""


def overrides_from_argocd_cm(data: Mapping[str, str]) -> dict[str, ResourceOverride]:
    """The health overrides of argocd-cm's data, keyed "group/Kind" (or "Kind", "*/*")."""
    overrides = _from_yaml(data.get(_PREFIX, ""))
    for key, value in data.items():
        if not key.startswith(_PREFIX):
            continue
        parts = key.split(".", 3)
        if len(parts) < 4:
            continue
        target = _override_key(parts[3])
        current = overrides.get(target, ResourceOverride())
        kind = parts[2]
        if kind == "health":
            overrides[target] = replace(current, health_lua=value)
        elif kind == "useOpenLibs":
            if value not in _BOOLS:
                raise ArgoCdConfigError(f'strconv.ParseBool: parsing "{value}": invalid syntax')
            overrides[target] = replace(current, use_open_libs=_BOOLS[value])
        elif kind in _OTHER_TYPES:
            overrides[target] = current  # an entry without health, as Argo CD keeps it
        else:
            raise ArgoCdConfigError(f"resource customization type {kind} not supported")
    return overrides


def _override_key(group_kind: str) -> str:
    """settings.go convertToOverrideKey ("cert-manager.io_Certificate" -> "cert-manager.io/
    Certificate"), with "all" for every kind."""
    parts = group_kind.split("_")
    if len(parts) == 2:
        key = f"{parts[0]}/{parts[1]}"
    elif len(parts) == 1 and group_kind:
        key = group_kind
    else:
        raise ArgoCdConfigError(
            "group kind should be in format `resource.customizations.<type>.<group_kind>` or "
            f"resource.customizations.<type>.<kind>`, got group kind: '{group_kind}'"
        )
    return "*/*" if key == "all" else key


def _from_yaml(text: str) -> dict[str, ResourceOverride]:
    """The `resource.customizations` YAML: a map of "group/Kind" to fields, of which health.lua
    and health.lua.useOpenLibs are the health ones."""
    if not text:
        return {}
    loaded = yaml.safe_load(text) or {}
    if not isinstance(loaded, Mapping):
        raise ArgoCdConfigError("resource.customizations is not a map of group/Kind to overrides")
    overrides = {}
    for key, fields in loaded.items():
        fields = fields or {}
        if not isinstance(fields, Mapping):
            raise ArgoCdConfigError(f"resource.customizations: {key} is not a map")
        script, open_libs = (
            fields.get("health.lua", ""),
            fields.get("health.lua.useOpenLibs", False),
        )
        if not isinstance(script, str) or not isinstance(open_libs, bool):
            raise ArgoCdConfigError(
                f"resource.customizations: {key} has a health field of the wrong type"
            )
        overrides[str(key)] = ResourceOverride(script, open_libs)
    return overrides
