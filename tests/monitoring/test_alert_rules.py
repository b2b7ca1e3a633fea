"""The alert and recording rules of every PrometheusRule of the monitoring base: schema,
promtool checks, unit tests and their coverage."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops.settings import Settings
from gitops.tree.upstream import folder

from .alert_rules import (
    RULE_FILES,
    RUNBOOK_URL,
    RuleFile,
    alerting_rules,
    cases_missing,
    is_about_a_model,
    load_prometheus_rule,
    per_model_problems,
    prometheus_rule_paths,
    write_rule_file,
)

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: `make setup` installs Debian's prometheus package"
)


@pytest.fixture(scope="module", params=RULE_FILES, ids=lambda f: f.id)
def rule_file(request: pytest.FixtureRequest) -> RuleFile:
    return request.param


@pytest.fixture(scope="module")
def prometheus_rule(rule_file: RuleFile) -> dict[str, Any]:
    return load_prometheus_rule(rule_file.path)


@pytest.fixture(scope="module")
def unit_tests(rule_file: RuleFile) -> dict[str, Any]:
    return yaml.safe_load(rule_file.unit_tests.read_text(encoding="utf-8"))


def test_every_prometheus_rule_has_its_own_unit_tests() -> None:
    # A rule file added without unit tests would go unchecked by everything below.
    assert sorted(f.path for f in RULE_FILES) == prometheus_rule_paths()
    for rule_file in RULE_FILES:
        listed = yaml.safe_load(rule_file.unit_tests.read_text(encoding="utf-8"))["rule_files"]
        assert listed == [rule_file.extracted_name], rule_file.id


def _unknown_fields(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    """Field names the CRD schema does not declare; its openAPIV3Schema does not forbid
    extra properties itself, and the API server would silently prune them."""
    problems = []
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                problems.append(f"{where}.{key}")
            else:
                problems += _unknown_fields(item, schema["properties"][key], f"{where}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problems += _unknown_fields(item, schema["items"], f"{where}[{index}]")
    return problems


def test_prometheus_rule_fields_exist_in_the_pinned_crd(prometheus_rule: dict[str, Any]) -> None:
    crd = yaml.safe_load(
        (
            folder("crds", Settings.from_env()) / "monitoring.coreos.com" / "prometheusrules.yaml"
        ).read_text("utf-8")
    )
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"]

    assert prometheus_rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert prometheus_rule["kind"] == "PrometheusRule"
    assert _unknown_fields(prometheus_rule["spec"], schema, "spec") == []


@needs_promtool
def test_promtool_check_rules_accepts_the_rule_groups(
    prometheus_rule: dict[str, Any], tmp_path: Path
) -> None:
    rule_file = write_rule_file(prometheus_rule, tmp_path)
    rules = [rule for group in prometheus_rule["spec"]["groups"] for rule in group["rules"]]

    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(rule_file)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def run_unit_tests(prometheus_rule: dict[str, Any], rule_file: RuleFile, directory: Path):
    # promtool resolves rule_files relative to the test file, so both go side by side.
    write_rule_file(prometheus_rule, directory, rule_file.extracted_name)
    shutil.copy(rule_file.unit_tests, directory / rule_file.unit_tests.name)
    return subprocess.run(
        [PROMTOOL, "test", "rules", rule_file.unit_tests.name],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )


@needs_promtool
def test_promtool_unit_tests_pass(
    prometheus_rule: dict[str, Any], rule_file: RuleFile, tmp_path: Path
) -> None:
    result = run_unit_tests(prometheus_rule, rule_file, tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_firing_and_a_silent_case(
    prometheus_rule: dict[str, Any], unit_tests: dict[str, Any]
) -> None:
    rules = alerting_rules(prometheus_rule)
    names = [rule["alert"] for rule in rules]
    tiers = [(rule["alert"], rule["labels"]["severity"]) for rule in rules]

    assert cases_missing(names, unit_tests, tiers) == []


def test_coverage_check_reports_a_tier_no_case_fires() -> None:
    fires_warning = {
        "tests": [
            {"alert_rule_test": [{"alertname": "A", "exp_alerts": []}]},
            {
                "alert_rule_test": [
                    {"alertname": "A", "exp_alerts": [{"exp_labels": {"severity": "warning"}}]}
                ]
            },
        ]
    }
    tiers = [("A", "warning"), ("A", "critical")]

    assert cases_missing(["A", "A"], fires_warning, tiers) == ["A: no case fires its critical tier"]


def test_coverage_check_reports_an_alert_without_a_silent_case() -> None:
    unit_tests = {
        "tests": [
            {"alert_rule_test": [{"alertname": "A", "exp_alerts": [{"exp_labels": {}}]}]},
            {"alert_rule_test": [{"alertname": "B", "exp_alerts": []}]},
        ]
    }

    assert cases_missing(["A", "B", "C"], unit_tests) == [
        "A: no silent case",
        "B: no firing case",
        "C: no firing case",
        "C: no silent case",
    ]


def test_every_firing_case_expects_tenant_and_severity(unit_tests: dict[str, Any]) -> None:
    # promtool compares the full label set, so this pins `tenant` on every alert.
    for test in unit_tests["tests"]:
        for case in test.get("alert_rule_test", []):
            for alert in case.get("exp_alerts") or []:
                assert {"tenant", "severity"} <= set(alert["exp_labels"]), (test["name"], case)


def test_every_alert_carries_severity_and_runbook(prometheus_rule: dict[str, Any]) -> None:
    for rule in alerting_rules(prometheus_rule):
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, name
        assert "$labels.tenant" in annotations["description"], name
        assert "$value" in annotations["description"], name
        assert annotations["runbook_url"] == RUNBOOK_URL.format(name), name


def test_alerts_about_a_model_fire_per_model_and_name_it(
    prometheus_rule: dict[str, Any], unit_tests: dict[str, Any]
) -> None:
    rules = alerting_rules(prometheus_rule)
    assert per_model_problems(rules, unit_tests) == []


def test_the_alerts_about_a_model_are_the_ones_expected() -> None:
    # Pods, Deployments and scrapes are not about one model; everything else is.
    from .alert_rules import all_alerting_rules

    about = {rule["alert"] for rule in all_alerting_rules() if is_about_a_model(rule)}
    others = {rule["alert"] for rule in all_alerting_rules()} - about
    assert others == {
        "InferenceNoReadyPods",
        "InferenceBelowDisruptionBudget",
        "InferenceTargetDown",
        "InferenceCPUThrottling",
    }


def test_the_per_model_check_reports_an_alert_aggregated_by_tenant_alone() -> None:
    planted = {
        "alert": "InferenceModelReloadFailing",
        "expr": "sum by (tenant) (increase(inference_model_reloads_total[15m])) > 0",
        "annotations": {"summary": "The inference service fails to load a new model version."},
    }
    unit_tests = {
        "tests": [
            {
                "name": "planted",
                "alert_rule_test": [
                    {
                        "alertname": "InferenceModelReloadFailing",
                        "exp_alerts": [{"exp_labels": {"severity": "warning", "tenant": "a"}}],
                    }
                ],
            }
        ]
    }
    assert per_model_problems([planted], unit_tests) == [
        "InferenceModelReloadFailing: a firing case of 'planted' expects no model label",
        "InferenceModelReloadFailing: its summary does not name the model",
    ]
