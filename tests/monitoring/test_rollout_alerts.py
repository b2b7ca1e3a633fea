"""The rollout alerts: schema, promtool checks, unit tests and their coverage, as the
inference alerts are checked (test_alert_rules.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops.paths import crds_dir

from .alert_rules import REPO_ROOT, RUNBOOK_URL, alerting_rules, cases_missing, load_prometheus_rule

RULE = REPO_ROOT / "base" / "monitoring" / "prometheusrule-rollouts.yaml"
UNIT_TESTS = Path(__file__).resolve().parent / "rollout_alerts_test.yaml"
EXTRACTED = "rollout-alerts.rules.yaml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool missing")


@pytest.fixture(scope="module")
def rule() -> dict[str, Any]:
    return load_prometheus_rule(RULE)


def test_fields_exist_in_the_pinned_crd(rule: dict[str, Any]) -> None:
    from .test_alert_rules import _unknown_fields

    crd = yaml.safe_load(
        (crds_dir() / "monitoring.coreos.com" / "prometheusrules.yaml").read_text()
    )
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert _unknown_fields(rule["spec"], schema, "spec") == []


@needs_promtool
def test_promtool_checks_and_unit_tests_pass(rule: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / EXTRACTED).write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    check = subprocess.run(
        [PROMTOOL, "check", "rules", EXTRACTED],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(alerting_rules(rule))} rules found" in check.stdout
    result = subprocess.run(
        [PROMTOOL, "test", "rules", UNIT_TESTS.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_silent_case(rule: dict[str, Any]) -> None:
    unit_tests = yaml.safe_load(UNIT_TESTS.read_text())
    assert cases_missing([r["alert"] for r in alerting_rules(rule)], unit_tests) == []
    for test in unit_tests["tests"]:
        for case in test.get("alert_rule_test", []):
            for alert in case.get("exp_alerts") or []:
                assert {"tenant", "severity"} <= set(alert["exp_labels"]), test["name"]


def test_every_alert_carries_severity_and_runbook(rule: dict[str, Any]) -> None:
    for alert in alerting_rules(rule):
        name = alert["alert"]
        assert alert["labels"]["severity"] in {"critical", "warning"}, name
        assert set(alert["annotations"]) == {"summary", "description", "runbook_url"}, name
        assert "$labels.tenant" in alert["annotations"]["description"], name
        assert alert["annotations"]["runbook_url"] == RUNBOOK_URL.format(name), name
