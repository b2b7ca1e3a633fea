"""Runs an Argo CD health.lua against an object the way Argo CD v3.5.1 runs it
(util/lua/lua.go runLua and ExecuteHealthLua): in Lua 5.1 (Argo CD's gopher-lua v1.1.2 is a
Lua 5.1 VM; here PUC Lua 5.1 through lupa.lua51), the object as the global `obj`, the libraries
of lua_env.lua, a 1 s deadline, the last returned value read as the health. A script that
fails, or returns what Argo CD cannot read, raises LuaScriptError with the message Argo CD
reports.

One Lua state per process; each script is compiled once and each call gets fresh globals, as
Argo CD's fresh VM per call gives it. Not reproduced: the wording of errors raised by the VM
itself (syntax errors, "attempt to index a nil value", ...) is PUC Lua's, not gopher-lua's;
numbers turned into text by the script (`..`, tostring) use PUC's %.14g where gopher-lua
prints Go's shortest form (they differ past 14 significant digits, e.g. 0.1 + 0.2)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gitops.simulation.health.lua_result import LuaScriptError, health_from_lua
from gitops.simulation.health.status import Health
from gitops.simulation.health.unstructured import JsonObject

try:
    import lupa.lua51 as lupa_lua51
except ImportError as exc:  # pragma: no cover - depends on the installed wheel
    raise ImportError(
        "gitops.simulation.health needs lupa's Lua 5.1 runtime (lupa.lua51): Argo CD's "
        "gopher-lua is Lua 5.1, and Lua 5.3+ would read numbers differently (3/1 is 3.0, "
        "integers and floats are distinct types)"
    ) from exc

# lua.go: context.WithTimeout(context.Background(), 1*time.Second).
TIMEOUT_SECONDS = 1.0
# Instructions between two looks at the deadline.
_HOOK_EVERY = 1000
_ENV_SOURCE = Path(__file__).with_name("lua_env.lua")


class _LuaState:
    """The process's Lua 5.1 state, the environment builder and the compiled scripts."""

    def __init__(self) -> None:
        # Strings cross as bytes: Lua's are bytes, and a script may return text that is not
        # UTF-8, which Argo CD's JSON encoding then repairs (lua_result.py).
        self.runtime = lupa_lua51.LuaRuntime(
            encoding=None, register_eval=False, register_builtins=False
        )
        if self.runtime.lua_version != (5, 1):  # pragma: no cover - guards the wheel
            raise ImportError(f"lupa.lua51 runs Lua {self.runtime.lua_version}, not 5.1")
        env = self.runtime.execute(
            _ENV_SOURCE.read_bytes(), time.monotonic, TIMEOUT_SECONDS, _HOOK_EVERY
        )
        self.run, self._identity, self._compile = env[b"run"], env[b"identity"], env[b"compile"]
        self._compiled: dict[str, Any] = {}
        self._syntax_errors: dict[str, str] = {}

    def identity(self, table: Any) -> int:
        return int(self._identity(table))

    def type_of(self, value: Any) -> str:
        return lupa_lua51.lua_type(value) or type(value).__name__

    def compiled(self, source: str) -> Any:
        """The script's chunk, compiled on first use. A syntax error raises on every call, as
        Argo CD compiles the script (and fails) on every call."""
        if source not in self._compiled and source not in self._syntax_errors:
            # Lua's loadstring: the chunk, or nil and the error (a tuple through lupa).
            loaded = self._compile(source.encode())
            if isinstance(loaded, tuple):
                self._syntax_errors[source] = loaded[1].decode("utf-8", "replace")
            else:
                self._compiled[source] = loaded
        if source in self._syntax_errors:
            raise LuaScriptError(self._syntax_errors[source])
        return self._compiled[source]


_state: _LuaState | None = None
_state_lock = threading.Lock()


def _lua() -> _LuaState:
    global _state
    with _state_lock:
        if _state is None:
            _state = _LuaState()
        return _state


def run_health_script(source: str, obj: JsonObject, *, open_libs: bool) -> Health:
    """ExecuteHealthLua: the health a script gives an object, or LuaScriptError."""
    state = _lua()
    chunk = state.compiled(source)
    table = state.runtime.table_from(_lua_data(obj), recursive=True)
    ok, value = state.run(chunk, table, open_libs)
    if not ok:
        raise LuaScriptError(value.decode("utf-8", "replace"))
    return health_from_lua(value, state)


def _lua_data(value: object) -> Any:
    """The object as lua.go's decodeValue hands it to Lua: strings as bytes, every number a
    Lua number (float64), null fields absent, null list items dropped (gopher-lua's Append
    skips nil). Anything that is not JSON raises TypeError: Argo CD only ever sees JSON."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise TypeError(f"{value} is not a JSON number")
        return float(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"object key {key!r} is not a string")
            if item is not None:
                out[key.encode()] = _lua_data(item)
        return out
    if isinstance(value, list | tuple):
        return [_lua_data(item) for item in value if item is not None]
    raise TypeError(
        f"{type(value).__name__} {value!r} is not a JSON value (load objects as JSON, or YAML "
        "without timestamp conversion)"
    )
