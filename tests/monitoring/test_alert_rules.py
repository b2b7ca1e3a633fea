"""The inference alerts: schema, promtool checks, unit tests and their coverage."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops.paths import crds_dir

from .alert_rules import (
    RUNBOOK_URL,
    UNIT_TESTS,
    alerting_rules,
    cases_missing,
    load_prometheus_rule,
    write_rule_file,
)

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: `make setup` installs Debian's prometheus package"
)


@pytest.fixture(scope="module")
def prometheus_rule() -> dict[str, Any]:
    return load_prometheus_rule()


@pytest.fixture(scope="module")
def unit_tests() -> dict[str, Any]:
    return yaml.safe_load(UNIT_TESTS.read_text(encoding="utf-8"))


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
        (crds_dir() / "monitoring.coreos.com" / "prometheusrules.yaml").read_text("utf-8")
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

    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(rule_file)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerting_rules(prometheus_rule))} rules found" in result.stdout


@needs_promtool
def test_promtool_unit_tests_pass(prometheus_rule: dict[str, Any], tmp_path: Path) -> None:
    # promtool resolves rule_files relative to the test file, so both go side by side.
    write_rule_file(prometheus_rule, tmp_path)
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)

    result = subprocess.run(
        [PROMTOOL, "test", "rules", UNIT_TESTS.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_firing_and_a_silent_case(
    prometheus_rule: dict[str, Any], unit_tests: dict[str, Any]
) -> None:
    names = [rule["alert"] for rule in alerting_rules(prometheus_rule)]

    assert cases_missing(names, unit_tests) == []


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
