"""Every PromQL expression of a Grafana dashboard, and how to make it plain PromQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path(__file__).resolve().parents[2] / "base" / "monitoring" / "dashboards"

# Grafana's built-in interval variables; any duration keeps the expression valid.
BUILTIN_DURATIONS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
# $var, ${var}, ${var:format} and the deprecated [[var]].
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]")
_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<args>.*)\)\s*$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^\s*query_result\((?P<expr>.*)\)\s*$", re.DOTALL)


class UnknownVariableError(ValueError):
    """An expression uses a variable the dashboard does not define."""


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def dashboard_files(directory: Path = DASHBOARDS_DIR) -> list[Path]:
    return sorted(directory.glob("*.json"))


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        # Collapsed rows keep their panels inside the row.
        yield from _panels(panel.get("panels", []))


def _variable_query(variable: dict[str, Any]) -> str:
    query = variable.get("query", "")
    return query.get("query", "") if isinstance(query, dict) else str(query)


def variable_expression(query: str) -> str | None:
    """The PromQL inside a Prometheus variable query, or None when it has none."""
    if match := _QUERY_RESULT.match(query):
        return match.group("expr")
    if match := _LABEL_VALUES.match(query):
        args = match.group("args")
        # label_values(label) has no selector; label_values(selector, label) has one.
        selector, _, _label = args.rpartition(",")
        return selector.strip() or None
    return None


def expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, expr) for every query: panel targets, variables and annotations."""
    found = []
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                found.append(
                    (f"panel {panel.get('title')!r} {target.get('refId')}", target["expr"])
                )
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            expr = variable_expression(_variable_query(variable))
            if expr:
                found.append((f"variable {variable['name']!r}", expr))
    for annotation in dashboard.get("annotations", {}).get("list", []):
        expr = annotation.get("expr") or annotation.get("target", {}).get("expr")
        if expr:
            found.append((f"annotation {annotation.get('name')!r}", expr))
    return found


def variable_names(dashboard: dict[str, Any]) -> set[str]:
    return {v["name"] for v in dashboard.get("templating", {}).get("list", [])}


def substitute_variables(expr: str, defined: set[str]) -> str:
    """Replace Grafana variables by values PromQL accepts; unknown ones are an error."""

    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name in BUILTIN_DURATIONS:
            return BUILTIN_DURATIONS[name]
        if name in defined:
            return "placeholder"
        raise UnknownVariableError(f"variable ${name} is not defined by the dashboard")

    return _VARIABLE.sub(replace, expr)


# Series about a model (the service's, the recorded drift series, the judge's): a panel on
# them follows the dashboard's `model` variable and keeps models apart.
MODEL_SERIES_PREFIXES = ("inference_", "tenant_model", "rollout_judge_")
_BY = re.compile(r"\bby\s*\(([^)]*)\)")


def model_scope_problems(queries: list[tuple[str, str]]) -> list[str]:
    """One line per query (over series about a model) that does not filter on the model
    variable, or that aggregates by tenant without keeping `model` (a per-pod aggregation,
    `by (..., pod)`, is a view of pods and may sum models). Variables are not panels."""
    problems = []
    for where, expr in queries:
        if where.startswith("variable"):
            continue
        if 'model=~"$model"' not in expr:
            problems.append(f"{where}: not filtered by the model variable")
        for labels in _BY.findall(expr):
            names = {label.strip() for label in labels.split(",")}
            if "tenant" in names and "model" not in names and "pod" not in names:
                problems.append(f"{where}: by ({labels}) sums the models together")
    return problems
