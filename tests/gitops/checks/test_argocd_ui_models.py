"""The models behind the `argocd-ui` checks: Go text/template with sprig (gotemplate.py) and
expr-lang/expr (expr.py), on the cases whose outcome Argo CD's links and notifications depend
on. Each expectation is what the Go library does (text/template's exec.go with the default
missingkey option; expr v1.17.8's vm/runtime/runtime.go Fetch and In)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gitops.checks.argocd_ui import expr, gotemplate

APP: dict[str, Any] = {
    "metadata": {"name": "tenant-a", "labels": {"team": "ml"}, "annotations": None},
    "status": {"resources": [{"kind": "Deployment", "status": "SyncFailed", "message": 'a "b"'}]},
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("{{ .app.metadata.name }}", "tenant-a", id="field"),
        pytest.param("{{ .app.metadata.missing }}", "<no value>", id="missing key"),
        pytest.param("{{ .app.missing.deeper }}", "<no value>", id="field of a missing key"),
        pytest.param("{{ .app.metadata.annotations }}", "<no value>", id="null prints no value"),
        pytest.param('{{ index .app.metadata.labels "x" }}', "<no value>", id="index missing"),
        pytest.param('{{ printf "%s" .app.metadata.missing }}', "%!s(<nil>)", id="nil argument"),
        pytest.param('{{ "a b&c" | urlquery }}', "a+b%26c", id="urlquery"),
        pytest.param('{{ or .app.missing "x" }}', "x", id="or returns the deciding value"),
        pytest.param("{{ and .app.missing .app.missing.x }}", "<no value>", id="and stops"),
        pytest.param('{{ eq .app.missing "x" }}', "false", id="eq with an invalid value"),
        pytest.param(
            "{{ range .app.status.resources }}{{ .kind }}:{{ .message | toJson }}{{ end }}",
            'Deployment:"a \\"b\\""',
            id="range and toJson",
        ),
        pytest.param(
            '{{- $l := list "x" -}}{{- $l = append $l "y" -}}{{ join "," $l }}',
            "x,y",
            id="variables",
        ),
        pytest.param(
            '{{ "models:/tenant-a-iris@staging" | trimPrefix "models:/" | splitList "@" | first }}',
            "tenant-a-iris",
            id="sprig pipeline",
        ),
        pytest.param('{{ printf "%s" (print "a") .app.metadata.name }}', "a", id="paren arg"),
    ],
)
def test_text_template(source: str, expected: str) -> None:
    assert gotemplate.render(source, {"app": APP}) == expected


@pytest.mark.parametrize(
    ("source", "error"),
    [
        pytest.param("{{ .app.metadata.annotations.x }}", "nil pointer evaluating", id="null.x"),
        pytest.param("{{ .app.metadata.name.x }}", "can't evaluate field x", id="string.x"),
        pytest.param("{{ eq .app.metadata.name 1 }}", "incompatible types", id="eq kinds"),
        pytest.param("{{ nope }}", 'function "nope" not defined', id="unknown function"),
        pytest.param("{{ if .app }}", "missing {{end}}", id="unclosed if"),
        pytest.param('{{ env "HOME" }}', 'function "env" not defined', id="env removed"),
    ],
)
def test_text_template_errors(source: str, error: str) -> None:
    with pytest.raises(gotemplate.TemplateError, match=error.replace("{", r"\{")):
        gotemplate.render(source, {"app": APP}, without=frozenset({"env"}))


def test_an_unmodelled_function_is_reported_as_such() -> None:
    with pytest.raises(gotemplate.NotModelled):
        gotemplate.render("{{ .app.metadata.name | title }}", {"app": APP})


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("app.metadata.labels.team == 'ml'", True, id="member"),
        pytest.param('app.metadata.labels["missing"] == nil', True, id="missing key is nil"),
        pytest.param("app.metadata.annotations?.x", None, id="optional chaining"),
        pytest.param("app.metadata.annotations?.x.y", None, id="optional skips the chain"),
        pytest.param("app.metadata.name in ['tenant-a', 'b']", True, id="in list"),
        pytest.param("'team' in app.metadata.labels", True, id="in map"),
        pytest.param("'x' in app.metadata.annotations", False, id="in nil"),
        pytest.param("app.metadata.name not in ['b']", True, id="not in"),
        pytest.param("not (1 == 2) and 1 < 2.5", True, id="precedence and numbers"),
        pytest.param("app.missing ?? 'd'", "d", id="nil coalescing"),
    ],
)
def test_expr(source: str, expected: Any) -> None:
    assert expr.run(source, {"app": APP}) == expected


@pytest.mark.parametrize(
    ("source", "error"),
    [
        pytest.param("app.metadata.annotations.x", "cannot fetch x from <nil>", id="nil.x"),
        pytest.param("app.metadata.name and true", "not a bool", id="and on a string"),
        pytest.param("app.metadata.name ==", "expected more", id="syntax"),
    ],
)
def test_expr_errors(source: str, error: str) -> None:
    with pytest.raises(expr.ExprError, match=error):
        expr.run(source, {"app": APP})


def test_expr_builtins_are_not_modelled() -> None:
    with pytest.raises(expr.NotModelled):
        expr.run("len(app.status.resources) > 0", {"app": APP})


def test_time_helpers_measure_how_long_an_operation_ran() -> None:
    env = {
        "app": {"startedAt": "2026-01-01T00:00:00Z"},
        "time": expr.time_helpers(datetime(2026, 1, 1, 0, 45, tzinfo=UTC)),
    }
    minutes = "time.Now().Sub(time.Parse(app.startedAt)).Minutes()"
    assert expr.run(f"{minutes} >= 30", env) is True
    assert expr.run(f"{minutes} >= 60", env) is False
