"""An object read the way the built-in Go checks see it after
runtime.DefaultUnstructuredConverter.FromUnstructured turned it into a typed struct: an absent
or null field is Go's zero value (0, "", false, empty list), an absent pointer field is nil
(None here), and a field of the wrong type fails the conversion (ConversionError).

Only the fields a check reads are converted; Go converts the whole object, so a wrong type in a
field no check reads fails there and passes here. The error's wording after Argo CD's prefix
is this model's own."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from gitops.simulation.health.status import Health
from gitops.simulation.health.unstructured import JsonObject, group_version_kind, gvk_string


class BuiltinError(Exception):
    """A built-in check returned an error; its text is Argo CD's (GetResourceHealth then
    reports Unknown with it)."""


class ConversionError(Exception):
    """The object does not convert to the Go type the check reads."""


TypedCheck = Callable[["Typed", str], Health]


def converted(
    label: str, *api_versions: str
) -> Callable[[TypedCheck], Callable[[JsonObject], Health]]:
    """The frame of every converting Go check (e.g. getDeploymentHealth): only the listed
    apiVersions convert ("unsupported <label> GVK: ..." otherwise), and a failed conversion
    is "failed to convert unstructured <label> to typed: ...". The check gets the typed object
    and the version."""

    def decorate(check: TypedCheck) -> Callable[[JsonObject], Health]:
        @wraps(check)
        def run(obj: JsonObject) -> Health:
            group, version, kind = group_version_kind(obj)
            if (f"{group}/{version}" if group else version) not in api_versions:
                raise BuiltinError(f"unsupported {label} GVK: {gvk_string(group, version, kind)}")
            try:
                return check(Typed(obj), version)
            except ConversionError as exc:
                raise BuiltinError(
                    f"failed to convert unstructured {label} to typed: {exc}"
                ) from exc

        return run

    return decorate


class Typed:
    """A JSON object (or the zero value of a struct, when absent) with typed field reads."""

    def __init__(self, data: object, path: str = "") -> None:
        if data is not None and not isinstance(data, Mapping):
            raise ConversionError(f"{path or '.'}: expected an object, got {_json_type(data)}")
        self._data: Mapping[str, Any] = data or {}
        self._path = path

    def child(self, key: str) -> Typed:
        """A struct field: absent reads as the zero struct."""
        return Typed(self._data.get(key), self._where(key))

    def optional_child(self, key: str) -> Typed | None:
        """A pointer-to-struct field: absent or null reads as nil."""
        found = self._data.get(key)
        return None if found is None else Typed(found, self._where(key))

    def number(self, key: str) -> int:
        found = self.optional_number(key)
        return 0 if found is None else found

    def optional_number(self, key: str) -> int | None:
        """An integer field: a JSON number without a fraction converts, anything else fails."""
        found = self._data.get(key)
        if found is None:
            return None
        if isinstance(found, bool) or not isinstance(found, int | float):
            raise ConversionError(
                f"{self._where(key)}: expected an integer, got {_json_type(found)}"
            )
        if isinstance(found, float):
            if not found.is_integer():
                raise ConversionError(f"{self._where(key)}: {found} is not an integer")
            return int(found)
        return found

    def text(self, key: str) -> str:
        found = self._data.get(key)
        if found is None:
            return ""
        if not isinstance(found, str):
            raise ConversionError(f"{self._where(key)}: expected a string, got {_json_type(found)}")
        return found

    def flag(self, key: str) -> bool:
        found = self._data.get(key)
        if found is None:
            return False
        if not isinstance(found, bool):
            raise ConversionError(
                f"{self._where(key)}: expected a boolean, got {_json_type(found)}"
            )
        return found

    def items(self, key: str) -> list[Typed]:
        """A list of structs: absent reads as empty."""
        found = self._data.get(key)
        if found is None:
            return []
        if not isinstance(found, list):
            raise ConversionError(f"{self._where(key)}: expected a list, got {_json_type(found)}")
        return [Typed(item, f"{self._where(key)}[{i}]") for i, item in enumerate(found)]

    def strings(self, key: str) -> dict[str, str]:
        """A map[string]string field (annotations, labels)."""
        found = self._data.get(key)
        if found is None:
            return {}
        if not isinstance(found, Mapping) or not all(isinstance(v, str) for v in found.values()):
            raise ConversionError(f"{self._where(key)}: expected a map of strings")
        return dict(found)

    def _where(self, key: str) -> str:
        return f"{self._path}.{key}"


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__
