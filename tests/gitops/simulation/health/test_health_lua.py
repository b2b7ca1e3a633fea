"""The Lua runner against scripts of our own: what Argo CD v3.5.1 makes of a script that fails,
returns an invalid status, nothing, or a table it cannot read (util/lua/lua.go
ExecuteHealthLua, layeh.com/gopher-json's Encode), and the environment a script sees (lua.go
runLua: `obj`, the libraries with and without useOpenLibs, fresh globals, the 1 s deadline)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

from gitops.simulation.health import (
    INVALID_STATUS,
    Health,
    HealthStatus,
    LuaScriptError,
    run_health_script,
)

OBJ: dict[str, Any] = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "w", "namespace": "tenant-a", "labels": None},
    "spec": {"replicas": 3, "items": ["a", None, "b"], "ratio": 0.5},
}
WRAP = "json: error calling MarshalJSON for type json.jsonValue: "


def run(source: str, *, open_libs: bool = False, obj: dict[str, Any] = OBJ) -> Health:
    return run_health_script(source, obj, open_libs=open_libs)


def error_of(source: str, *, open_libs: bool = False) -> str:
    with pytest.raises(LuaScriptError) as raised:
        run(source, open_libs=open_libs)
    return str(raised.value)


def test_a_script_reads_the_object_and_its_table_is_the_health() -> None:
    script = (
        'return {status = "Progressing", message = obj.metadata.name .. " " .. obj.spec.replicas}'
    )
    assert run(script) == Health(HealthStatus.PROGRESSING, "w 3")


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        pytest.param('error("boom")', "<string>:1: boom", id="error() names chunk and line"),
        pytest.param('local x = 1\n\nerror("on line 3")', "<string>:3: on line 3", id="line"),
        pytest.param("return 5", "expect table output from Lua script, not number", id="a number"),
        pytest.param(
            'return "Healthy"', "expect table output from Lua script, not string", id="a string"
        ),
        pytest.param(
            'return {status = "Healthy", [1] = "x"}',
            WRAP + "cannot encode mixed or invalid key types",
            id="mixed keys",
        ),
        pytest.param('return {[2] = "x"}', WRAP + "cannot encode sparse array", id="sparse"),
        pytest.param(
            'return {status = "Healthy", message = function() end}',
            WRAP + WRAP + "cannot encode function to JSON",
            id="a function, one level down",
        ),
        pytest.param(
            'return {status = "Healthy", ratio = 0/0}',
            WRAP + WRAP + "json: unsupported value: NaN",
            id="NaN",
        ),
        pytest.param(
            'local t = {} return {status = "Healthy", x = {a = t, b = t}}',
            WRAP * 3 + "cannot encode recursively nested tables to JSON",
            id="one table met twice",
        ),
    ],
)
def test_what_argo_cd_reports_as_an_error(script: str, expected: str) -> None:
    assert error_of(script) == expected


def test_a_syntax_error_is_an_error_on_every_call() -> None:
    first = error_of("return {status = }")
    assert first.startswith("<string>:1:")
    assert error_of("return {status = }") == first


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        pytest.param(
            'return {status = "healthy"}', Health(HealthStatus.UNKNOWN, INVALID_STATUS), id="case"
        ),
        pytest.param(
            'return {status = "Done", message = "dropped"}',
            Health(HealthStatus.UNKNOWN, INVALID_STATUS),
            id="not a status",
        ),
        pytest.param(
            'return {message = "no status"}',
            Health(HealthStatus.UNKNOWN, INVALID_STATUS),
            id="no status",
        ),
        pytest.param("local hs = {}", Health(HealthStatus.EMPTY), id="returns nothing"),
        pytest.param("return nil", Health(HealthStatus.EMPTY), id="returns nil"),
        pytest.param("return {}", Health(HealthStatus.EMPTY), id="an empty table is a JSON array"),
        pytest.param('return {"Healthy"}', Health(HealthStatus.EMPTY), id="a list"),
        pytest.param(
            'return {status = 1, message = "m"}', Health(HealthStatus.EMPTY), id="a number status"
        ),
        pytest.param(
            'return {status = "Healthy", message = true}',
            Health(HealthStatus.EMPTY),
            id="a boolean message",
        ),
        pytest.param(
            'return {Status = "Degraded", MESSAGE = "m", extra = {1, 2}}',
            Health(HealthStatus.DEGRADED, "m"),
            id="keys match case-insensitively, others are ignored",
        ),
        pytest.param(
            'return {status = "Degraded"}, {status = "Healthy", message = "last"}',
            Health(HealthStatus.HEALTHY, "last"),
            id="the last returned value",
        ),
        pytest.param(
            'return {status = "Healthy"}, nil', Health(HealthStatus.EMPTY), id="a trailing nil"
        ),
        pytest.param(
            'return {status = "Missing"}', Health(HealthStatus.MISSING), id="Missing is valid"
        ),
        pytest.param(
            'return {status = "Healthy", message = "\\255ok"}',
            Health(HealthStatus.HEALTHY, "\ufffdok"),
            id="text that is not UTF-8 is repaired",
        ),
    ],
)
def test_how_argo_cd_reads_the_returned_value(script: str, expected: Health) -> None:
    assert run(script) == expected


def test_numbers_are_lua_5_1_doubles_and_null_list_items_are_dropped() -> None:
    script = (
        'return {status = "Healthy", message = tostring(obj.spec.replicas / 2) .. " "'
        ' .. #obj.spec.items .. " " .. obj.spec.items[2] .. " " .. tostring(obj.metadata.labels)}'
    )
    assert run(script).message == "1.5 2 b nil"


@pytest.mark.parametrize(
    ("script", "closed", "open"),
    [
        pytest.param(
            'return {status = "Healthy", message = string.format("%d", 3)}',
            "<string>:1: attempt to index global 'string' (a nil value)",
            "3",
            id="string",
        ),
        pytest.param(
            'return {status = "Healthy", message = ("x"):upper()}',
            "<string>:1: attempt to index a string value",
            "X",
            id="string methods",
        ),
        pytest.param(
            'return {status = "Healthy", message = tostring(math.floor(2.5))}',
            "<string>:1: attempt to index global 'math' (a nil value)",
            "2",
            id="math",
        ),
        pytest.param(
            'return {status = "Healthy", message = type(os)}',
            "nil",
            "table",
            id="os only through require without the libraries",
        ),
    ],
)
def test_the_standard_libraries_only_with_use_open_libs(
    script: str, closed: str, open: str
) -> None:
    assert run(script, open_libs=True).message == open
    assert outcome(script) == closed


def outcome(script: str) -> str:
    """The message a script gives, or the error it raises."""
    try:
        return run(script).message
    except LuaScriptError as exc:
        return str(exc)


@pytest.mark.parametrize("open_libs", [False, True])
def test_always_there_table_and_the_safe_os(open_libs: bool) -> None:
    script = (
        'local os = require("os") local t = {} table.insert(t, type(os.time()))'
        " table.insert(t, type(os.date)) table.insert(t, type(os.execute))"
        " table.insert(t, type(table.foreach))"
        ' return {status = "Healthy", message = table.concat(t, ",")}'
    )
    # gopher-lua's table library has no foreach (Lua 5.1's has).
    expected = "number,function,nil,nil"
    assert run(script, open_libs=open_libs).message == expected


def test_the_libraries_a_script_cannot_change_for_the_next() -> None:
    run('leaked = "x"; table.insert = nil; return {status = "Healthy"}')
    script = 'return {status = "Healthy", message = tostring(leaked) .. type(table.insert)}'
    assert run(script).message == "nilfunction"


def test_a_script_running_past_the_deadline_fails_even_under_pcall() -> None:
    started = time.monotonic()
    script = 'local ok, err = pcall(function() while true do end end) return {status = "Healthy"}'
    assert error_of(script) == "<string>:1: context deadline exceeded"
    assert 0.9 < time.monotonic() - started < 3
    assert run('return {status = "Healthy"}') == Health(HealthStatus.HEALTHY)


def test_an_object_that_is_not_json_is_refused() -> None:
    stamped = {**OBJ, "metadata": {"creationTimestamp": datetime(2026, 1, 1)}}
    with pytest.raises(TypeError, match="not a JSON value"):
        run('return {status = "Healthy"}', obj=stamped)
