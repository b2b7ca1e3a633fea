"""The platform's inference alerts: where the PrometheusRule lives and what it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_RULE = REPO_ROOT / "base" / "monitoring" / "prometheusrule-inference.yaml"
UNIT_TESTS = Path(__file__).resolve().parent / "alerts_test.yaml"
# The name alerts_test.yaml lists under rule_files.
EXTRACTED_RULES_NAME = "inference-alerts.rules.yaml"
# Each alert's runbook: docs/runbooks/<AlertName>.md, as GitHub shows it.
RUNBOOKS = REPO_ROOT / "docs" / "runbooks"
RUNBOOK_URL = "https://github.com/example-org/ml-inference-platform/blob/main/docs/runbooks/{}.md"


def load_prometheus_rule(path: Path = PROMETHEUS_RULE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def all_prometheus_rules() -> list[dict[str, Any]]:
    """Every PrometheusRule of the monitoring base (inference, rollouts, ...)."""
    return [
        load_prometheus_rule(p)
        for p in sorted(PROMETHEUS_RULE.parent.glob("prometheusrule-*.yaml"))
    ]


def all_alerting_rules() -> list[dict[str, Any]]:
    return [rule for document in all_prometheus_rules() for rule in alerting_rules(document)]


def rule_groups(prometheus_rule: dict[str, Any]) -> dict[str, Any]:
    """A Prometheus rule file: the PrometheusRule's spec.groups as promtool reads them."""
    return {"groups": prometheus_rule["spec"]["groups"]}


def alerting_rules(prometheus_rule: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        rule
        for group in prometheus_rule["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def write_rule_file(prometheus_rule: dict[str, Any], directory: Path) -> Path:
    path = directory / EXTRACTED_RULES_NAME
    path.write_text(yaml.safe_dump(rule_groups(prometheus_rule), sort_keys=False), "utf-8")
    return path


def unit_test_cases(unit_tests: dict[str, Any]) -> dict[str, dict[str, int]]:
    """alertname -> {"firing": n, "silent": n} over every alert_rule_test in the file."""
    cases: dict[str, dict[str, int]] = {}
    for test in unit_tests.get("tests", []):
        for case in test.get("alert_rule_test", []):
            counts = cases.setdefault(case["alertname"], {"firing": 0, "silent": 0})
            counts["firing" if case.get("exp_alerts") else "silent"] += 1
    return cases


def cases_missing(alert_names: list[str], unit_tests: dict[str, Any]) -> list[str]:
    """One line per alert that lacks a firing or a silent promtool case."""
    cases = unit_test_cases(unit_tests)
    problems = []
    for name in alert_names:
        counts = cases.get(name, {"firing": 0, "silent": 0})
        problems += [f"{name}: no {kind} case" for kind, n in counts.items() if n == 0]
    problems += [f"{name}: tested but not defined" for name in cases if name not in alert_names]
    return problems
