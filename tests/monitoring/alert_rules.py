"""The platform's alert and recording rules: where each PrometheusRule lives, what it holds,
and which promtool unit tests go with it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
MONITORING_BASE = REPO_ROOT / "base" / "monitoring"
HERE = Path(__file__).resolve().parent
PROMETHEUS_RULE = MONITORING_BASE / "prometheusrule-inference.yaml"
UNIT_TESTS = HERE / "alerts_test.yaml"
# The name alerts_test.yaml lists under rule_files.
EXTRACTED_RULES_NAME = "inference-alerts.rules.yaml"


@dataclass(frozen=True)
class RuleFile:
    """A PrometheusRule of the monitoring base and its own promtool unit tests."""

    path: Path
    unit_tests: Path
    # The name its unit tests list under rule_files.
    extracted_name: str

    @property
    def id(self) -> str:
        return self.path.name


RULE_FILES = (
    RuleFile(PROMETHEUS_RULE, UNIT_TESTS, EXTRACTED_RULES_NAME),
    RuleFile(
        MONITORING_BASE / "prometheusrule-drift.yaml",
        HERE / "drift_test.yaml",
        "drift-alerts.rules.yaml",
    ),
    RuleFile(
        MONITORING_BASE / "prometheusrule-rollouts.yaml",
        HERE / "rollout_alerts_test.yaml",
        "rollout-alerts.rules.yaml",
    ),
)


def prometheus_rule_paths(directory: Path = MONITORING_BASE) -> list[Path]:
    """Every PrometheusRule file of the monitoring base (what `make up`'s Prometheus loads)."""
    return sorted(directory.glob("prometheusrule-*.yaml"))


def all_rules() -> list[dict[str, Any]]:
    """Every alerting and recording rule of every PrometheusRule of the monitoring base."""
    return [
        rule
        for path in prometheus_rule_paths()
        for group in load_prometheus_rule(path)["spec"]["groups"]
        for rule in group["rules"]
    ]


def all_alerting_rules() -> list[dict[str, Any]]:
    return [rule for rule in all_rules() if "alert" in rule]


def recorded_names() -> set[str]:
    """Series the recording rules write: queried by alerts and panels, exported by no service."""
    return {rule["record"] for rule in all_rules() if "record" in rule}


# Each alert's runbook: docs/runbooks/<AlertName>.md, as GitHub shows it.
RUNBOOKS = REPO_ROOT / "docs" / "runbooks"
RUNBOOK_URL = "https://github.com/example-org/ml-inference-platform/blob/main/docs/runbooks/{}.md"


def load_prometheus_rule(path: Path = PROMETHEUS_RULE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


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


def write_rule_file(
    prometheus_rule: dict[str, Any], directory: Path, name: str = EXTRACTED_RULES_NAME
) -> Path:
    path = directory / name
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


def fired_severities(unit_tests: dict[str, Any]) -> dict[str, set[str]]:
    """alertname -> the severities some case expects to fire."""
    found: dict[str, set[str]] = {}
    for test in unit_tests.get("tests", []):
        for case in test.get("alert_rule_test", []):
            for alert in case.get("exp_alerts") or []:
                severity = alert.get("exp_labels", {}).get("severity")
                found.setdefault(case["alertname"], set()).add(severity)
    return found


def cases_missing(
    alert_names: list[str], unit_tests: dict[str, Any], severities: list[tuple[str, str]] = ()
) -> list[str]:
    """One line per alert that lacks a firing or a silent promtool case, and per tier
    (alertname, severity) of an alert defined in several tiers that no case sees firing."""
    cases = unit_test_cases(unit_tests)
    problems = []
    for name in dict.fromkeys(alert_names):
        counts = cases.get(name, {"firing": 0, "silent": 0})
        problems += [f"{name}: no {kind} case" for kind, n in counts.items() if n == 0]
    problems += [f"{name}: tested but not defined" for name in cases if name not in alert_names]
    fired = fired_severities(unit_tests)
    tiers: dict[str, set[str]] = {}
    for name, severity in severities:
        tiers.setdefault(name, set()).add(severity)
    for name, defined in tiers.items():
        if len(defined) > 1:
            problems += [
                f"{name}: no case fires its {severity} tier"
                for severity in sorted(defined - fired.get(name, set()))
            ]
    return problems


# Series about a model: the service's own (labelled `model` by the service), the recorded
# drift series (per tenant, model, version) and the judge's (per tenant, model).
MODEL_SERIES_PREFIXES = ("inference_", "tenant_model", "rollout_judge_")


def is_about_a_model(rule: dict[str, Any]) -> bool:
    """An alert whose expression reads series about a model: it must fire per model."""
    from .promql_names import metric_names

    return any(name.startswith(MODEL_SERIES_PREFIXES) for name in metric_names(rule["expr"]))


def per_model_problems(rules: list[dict[str, Any]], unit_tests: dict[str, Any]) -> list[str]:
    """One line per alert about a model whose summary does not name the model, and per
    firing case of such an alert that does not expect a `model` label (promtool compares
    the whole label set, so that case pins the aggregation to keep `model`)."""
    about = {rule["alert"] for rule in rules if "alert" in rule and is_about_a_model(rule)}
    problems = [
        f"{rule['alert']}: its summary does not name the model"
        for rule in rules
        if rule.get("alert") in about and "$labels.model" not in rule["annotations"]["summary"]
    ]
    for test in unit_tests.get("tests", []):
        for case in test.get("alert_rule_test", []):
            if case["alertname"] not in about:
                continue
            problems += [
                f"{case['alertname']}: a firing case of {test['name']!r} expects no model label"
                for alert in case.get("exp_alerts") or []
                if "model" not in alert.get("exp_labels", {})
            ]
    return sorted(set(problems))
