"""How Argo CD v3.5.1 reads the value a health.lua returned (util/lua/lua.go
ExecuteHealthLua): nil is the empty status; a table is encoded to JSON by layeh.com/gopher-json
(json.go Encode, at the v0.0.0-20190114024228-97fed8db8427 Argo CD's go.mod pins) and decoded
by Go's encoding/json into HealthStatus{status, message}; any other value is an error.

What follows from that, and is modelled here: field names match case-insensitively; a table
that encodes to a JSON array (an empty table, a list) or holds a status or message that is not
a string decodes with a type error, which Argo CD answers with the empty status; a status
outside the six codes is Unknown ("Lua returned an invalid health status"); a table gopher-json
cannot encode (mixed or sparse keys, a function, NaN, a table met twice) is an error whose text
is Go's, wrapped once per nesting level."""

from __future__ import annotations

import math
from typing import Any, Protocol

from gitops.simulation.health.gojson import field_for
from gitops.simulation.health.status import Health, HealthStatus

INVALID_STATUS = "Lua returned an invalid health status"
_VALID = frozenset(s.value for s in HealthStatus if s is not HealthStatus.EMPTY)
_FIELDS = ("status", "message")
# encoding/json wraps an error a MarshalJSON method returns, once per level it passes.
_WRAP = "json: error calling MarshalJSON for type json.jsonValue: "
# gopher-lua's table keeps positive integer keys below MaxArrayIndex in its array part, which
# its Next visits first, in order.
_MAX_ARRAY_INDEX = 67108864


class LuaScriptError(Exception):
    """A health script failed; str() is the error text Argo CD reports as the message."""


class LuaValues(Protocol):
    """What reading Lua values needs from the Lua state."""

    def identity(self, table: Any) -> int:
        """A number per Lua table, the same for two references to one table."""
        ...

    def type_of(self, value: Any) -> str:
        """Lua's type() of a Lua object ("table", "function", "userdata", "thread")."""
        ...


def health_from_lua(value: object, lua: LuaValues) -> Health:
    """The health a script's last returned value gives."""
    if value is None:
        return Health(HealthStatus.EMPTY)
    kind = _lua_type(value, lua)
    if kind != "table":
        raise LuaScriptError(f"expect table output from Lua script, not {kind}")
    return _decode(_Encoder(lua).encode(value, 0))


def _decode(encoded: Any) -> Health:
    """json.Unmarshal into HealthStatus, and ExecuteHealthLua's answers to what it gives."""
    if not isinstance(encoded, dict):
        return Health(HealthStatus.EMPTY)
    fields = dict.fromkeys(_FIELDS, "")
    type_error = False
    for key, value in encoded.items():  # in Go's marshal order, so a later key wins
        field = field_for(key, _FIELDS)
        if field is None or value is None:
            continue
        if isinstance(value, str):
            fields[field] = value
        else:
            type_error = True
    if type_error:
        return Health(HealthStatus.EMPTY)
    if fields["status"] not in _VALID:
        return Health(HealthStatus.UNKNOWN, INVALID_STATUS)
    return Health(HealthStatus(fields["status"]), fields["message"])


class _Encoder:
    """gopher-json's jsonValue.MarshalJSON, producing Python JSON values."""

    def __init__(self, lua: LuaValues) -> None:
        self._lua = lua
        # Never cleared: gopher-json refuses a table it has met before, even if not a cycle.
        self._visited: set[int] = set()

    def encode(self, value: Any, depth: int) -> Any:
        if isinstance(value, bytes):
            # encoding/json coerces strings to valid UTF-8.
            return value.decode("utf-8", "replace")
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            if math.isnan(value) or math.isinf(value):
                text = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
                raise self._error(depth, f"json: unsupported value: {text}")
            return value
        kind = _lua_type(value, self._lua)
        if kind != "table":
            raise self._error(depth, f"cannot encode {kind} to JSON")
        table_id = self._lua.identity(value)
        if table_id in self._visited:
            raise self._error(depth, "cannot encode recursively nested tables to JSON")
        self._visited.add(table_id)
        entries = self._entries(value)
        if not entries:
            return []
        first = entries[0][0]
        if _is_number(first):
            return [self.encode(item, depth + 1) for item in self._array(entries, depth)]
        if not isinstance(first, bytes) or not all(isinstance(k, bytes) for k, _ in entries):
            raise self._error(depth, "cannot encode mixed or invalid key types")
        # encoding/json writes a map's keys sorted by their bytes.
        return {
            key.decode("utf-8", "replace"): self.encode(item, depth + 1)
            for key, item in sorted(entries, key=lambda entry: entry[0])
        }

    def _array(self, entries: list[tuple[Any, Any]], depth: int) -> list[Any]:
        values = []
        for expected, (key, item) in enumerate(entries, start=1):
            if not _is_number(key):
                raise self._error(depth, "cannot encode mixed or invalid key types")
            if key != expected:
                raise self._error(depth, "cannot encode sparse array")
            values.append(item)
        return values

    @staticmethod
    def _entries(table: Any) -> list[tuple[Any, Any]]:
        """The table's entries in gopher-lua's Next order: the array part (positive integer
        keys) ascending, then the rest. gopher-lua visits the rest in insertion order, which a
        Lua 5.1 table does not keep; its own order stands in (this only decides which of two
        encoding errors a malformed table reports)."""
        entries = list(table.items())
        array = sorted((e for e in entries if _is_array_key(e[0])), key=lambda e: e[0])
        return array + [e for e in entries if not _is_array_key(e[0])]

    @staticmethod
    def _error(depth: int, message: str) -> LuaScriptError:
        return LuaScriptError(_WRAP * (depth + 1) + message)


def _is_number(key: object) -> bool:
    return isinstance(key, int | float) and not isinstance(key, bool)


def _is_array_key(key: object) -> bool:
    return (
        isinstance(key, int | float)
        and not isinstance(key, bool)
        and float(key).is_integer()
        and 0 < key < _MAX_ARRAY_INDEX
    )


def _lua_type(value: object, lua: LuaValues) -> str:
    """Lua's type() of a value handed back to Python (gopher-lua's LValueType names are the
    same)."""
    if isinstance(value, bytes):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return lua.type_of(value)
