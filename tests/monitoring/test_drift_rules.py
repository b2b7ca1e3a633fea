"""The drift rules beyond their hand-written unit tests (drift_test.yaml): the unit tests catch
the faults they are there for, the recorded PSI and JS distance are exactly training's formulas
(the ones its chance levels come from), and a shift of a given size fires when the rules say.

promtool runs the real rule file in each test; the inputs are generated here."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from training.lifecycle.reference_stats import js_distance, psi

from .alert_rules import RULE_FILES, load_prometheus_rule, write_rule_file
from .drift_timing import DRIFT_RULE, minutes_to_cross, minutes_to_fire, read_rules, shifted_shares

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: `make setup` installs Debian's prometheus package"
)
DRIFT_FILE = next(f for f in RULE_FILES if f.path == DRIFT_RULE)
POD = {"job": "inference-service", "tenant": "tenant-a", "pod": "inference-service-1"}
VERSION = {"model": "m", "version": "1"}


def _promtool_test(
    rules: dict[str, Any], tests: list[dict[str, Any]], directory: Path
) -> subprocess.CompletedProcess[str]:
    name = "drift-alerts.rules.yaml"
    write_rule_file(rules, directory, name)
    document = {"rule_files": [name], "evaluation_interval": "1m", "tests": tests}
    (directory / "generated_test.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return subprocess.run(
        [PROMTOOL, "test", "rules", "generated_test.yaml"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )


def _selector(name: str, **labels: str) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in {**POD, **VERSION, **labels}.items())
    return f"{name}{{{inner}}}"


def _constant(name: str, value: float, minutes: int, **labels: str) -> dict[str, str]:
    return {"series": _selector(name, **labels), "values": f"{value!r}x{minutes}"}


def _counter(name: str, before: float, after: float, split: int, minutes: int, **labels: str):
    """A counter growing by `before` a minute up to minute `split`, by `after` from then on.
    Every value is written out: promtool's `a+bxn` adds in its own order, and a float that
    comes out a hair lower than the one before reads as a counter reset."""
    values, total = [], 0.0
    for minute in range(minutes):
        values.append(repr(total))
        total += before if minute < split else after
    return {"series": _selector(name, **labels), "values": " ".join(values)}


def _reference_series(features: list[dict[str, Any]], window_rows: int, minutes: int):
    series = [_constant("inference_drift_window_rows", window_rows, minutes)]
    for feature in features:
        name = feature["name"]
        series.append(
            _constant(
                "inference_drift_feature_importance", feature["importance"], minutes, feature=name
            )
        )
        series.append(
            _constant("inference_drift_chance_psi", feature["chance_psi"], minutes, feature=name)
        )
        for index, share in enumerate(feature["shares"]):
            series.append(
                _constant(
                    "inference_drift_reference_share",
                    share,
                    minutes,
                    feature=name,
                    bin=str(index),
                    range=f"bin {index}",
                )
            )
    return series


def _traffic_series(
    before: dict[str, np.ndarray],
    after: dict[str, np.ndarray],
    rows: float,
    split: int,
    minutes: int,
):
    series = [_counter("inference_drift_rows_total", rows, rows, split, minutes)]
    for name, shares in before.items():
        for index, (share_before, share_after) in enumerate(zip(shares, after[name], strict=True)):
            series.append(
                _counter(
                    "inference_drift_bin_rows_total",
                    float(share_before * rows),
                    float(share_after * rows),
                    split,
                    minutes,
                    feature=name,
                    bin=str(index),
                )
            )
    return series


# --- the hand-written unit tests catch what they are there for ---------------------------------


def _mutated(replace: tuple[str, str] | None = None, without_minimum_rows: bool = False):
    rule = load_prometheus_rule(DRIFT_RULE)
    if replace:
        rule = yaml.safe_load(yaml.safe_dump(rule).replace(*replace))
    if without_minimum_rows:
        for group in rule["spec"]["groups"]:
            for item in group["rules"]:
                if "alert" in item:
                    item["expr"] = item["expr"].split("and on")[0]
    return rule


def _unit_tests_on(
    rule: dict[str, Any], directory: Path, only: str
) -> subprocess.CompletedProcess[str]:
    """The hand-written tests whose name contains `only`, on `rule` (on the real rules, all of
    them pass: test_alert_rules.py::test_promtool_unit_tests_pass)."""
    write_rule_file(rule, directory, DRIFT_FILE.extracted_name)
    document = yaml.safe_load(DRIFT_FILE.unit_tests.read_text(encoding="utf-8"))
    document["tests"] = [t for t in document["tests"] if only in t["name"]]
    assert document["tests"], only
    (directory / DRIFT_FILE.unit_tests.name).write_text(yaml.safe_dump(document, sort_keys=False))
    return subprocess.run(
        [PROMTOOL, "test", "rules", DRIFT_FILE.unit_tests.name],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )


def test_unit_tests_catch_alerts_without_the_minimum_sample_count(tmp_path: Path) -> None:
    result = _unit_tests_on(_mutated(without_minimum_rows=True), tmp_path, "gives no verdict")

    assert result.returncode != 0
    assert "gives no verdict" in result.stderr


def test_unit_tests_catch_rules_that_mix_model_versions(tmp_path: Path) -> None:
    only = "never with rows of the one before"
    mixed = _mutated(replace=("tenant, model, version", "tenant, model"))

    result = _unit_tests_on(mixed, tmp_path, only)

    assert result.returncode != 0
    assert only in result.stderr


def test_unit_tests_catch_a_page_tier_without_its_factor_on_chance(tmp_path: Path) -> None:
    only = "chance level"
    result = _unit_tests_on(
        _mutated(replace=("clamp_min(2 * max by", "clamp_min(1 * max by")), tmp_path, only
    )

    assert result.returncode != 0
    assert "inference_drift_psi_threshold:page" in result.stderr


# --- PromQL computes what training's bootstrap computed ------------------------------------------


def test_recorded_psi_and_js_distance_are_trainings_formulas(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    features, observed = [], {}
    for index, bins in enumerate((3, 6, 11)):
        reference = rng.dirichlet(np.ones(bins))
        reference[0] = 0.0  # a bin training never saw: the floor keeps log() finite
        reference /= reference.sum()
        counts = rng.integers(0, 50, size=bins).astype(float)
        counts[-1] = 0.0  # a bin traffic never reaches
        features.append(
            {
                "name": f"f{index}",
                "shares": reference.tolist(),
                "importance": 1 / 3,
                "chance_psi": 0,
            }
        )
        observed[f"f{index}"] = counts / counts.sum()
    minutes = 90
    series = _reference_series(features, 300, minutes)
    series += _traffic_series(observed, observed, 100.0, 30, minutes)
    checks = []
    for feature in features:
        name = feature["name"]
        reference = np.asarray(feature["shares"])
        for record, expected in (
            ("tenant_model_version_feature:inference_drift_psi:1h", psi(observed[name], reference)),
            (
                "tenant_model_version_feature:inference_drift_js_distance:1h",
                js_distance(observed[name], reference),
            ),
        ):
            checks.append(
                {
                    "expr": f'abs({record}{{feature="{name}"}} - {float(expected)!r}) < bool 1e-9',
                    "eval_time": "80m",
                    "exp_samples": [
                        {
                            "labels": "{"
                            + f'tenant="tenant-a",model="m",version="1",feature="{name}"'
                            + "}",
                            "value": 1,
                        }
                    ],
                }
            )
    tests = [{"interval": "1m", "input_series": series, "promql_expr_test": checks}]

    result = _promtool_test(load_prometheus_rule(DRIFT_RULE), tests, tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr


# --- a shift of a given size fires when the rules say ------------------------------------------


@pytest.fixture(scope="module")
def tenant_a_reference() -> tuple[dict[str, Any], Any]:
    """tenant-a's reference as `python -m training train` records it, and its training rows."""
    from training.lifecycle import datasets, estimators
    from training.lifecycle.catalog import load_catalog
    from training.lifecycle.train import drift_reference
    from training.settings import Settings

    settings = Settings.from_env()
    entry = load_catalog(settings.tenants_file)["tenant-a"]
    data = datasets.split(entry.dataset, settings.split_seed, settings.test_size)
    pipeline = estimators.build(entry.estimator, settings.split_seed).fit(
        data.x_train, data.y_train
    )
    return drift_reference(pipeline, data, settings), data.x_train


@pytest.mark.parametrize("tier", ["warn", "page"])
def test_a_one_sd_shift_of_every_feature_fires_when_the_rules_say(
    tier: str, tenant_a_reference: tuple[dict[str, Any], Any], tmp_path: Path
) -> None:
    document, frame = tenant_a_reference
    features = document["features"]
    rules = read_rules()
    shifted = shifted_shares(document, frame, 1.0)
    expected = minutes_to_fire(features, shifted, rules.tiers[tier], rules.window_minutes)
    assert expected is not None
    # Away from the edge: the minute before the crossing is clearly below the threshold.
    for feature in features:
        reference = np.asarray(feature["shares"])
        threshold = rules.tiers[tier].threshold(feature["chance_psi"])
        at = minutes_to_cross(reference, shifted[feature["name"]], threshold, rules.window_minutes)
        if at is not None and at > 1:
            before = (1 - (at - 1) / 60) * reference + (at - 1) / 60 * shifted[feature["name"]]
            assert float(psi(before, reference)) < threshold * 0.999
    split, minutes = 60, 60 + expected + 10
    before = {f["name"]: np.asarray(f["shares"]) for f in features}
    series = _reference_series(features, document["window_rows"], minutes)
    series += _traffic_series(before, shifted, 100.0, split, minutes)
    severity = rules.tiers[tier].severity
    labels = {"severity": severity, "tenant": "tenant-a", **VERSION}

    def firing(at: int) -> list[dict[str, Any]]:
        alerts = []
        for other in rules.tiers.values():
            fires = minutes_to_fire(features, shifted, other, rules.window_minutes)
            if fires is not None and fires <= at - split:
                alerts.append({"exp_labels": {**labels, "severity": other.severity}})
        return alerts

    cases = []
    for at in (split + expected - 1, split + expected):
        case = {"eval_time": f"{at}m", "alertname": "InferenceFeatureDrift"}
        case["exp_alerts"] = firing(at)
        cases.append(case)
    # Annotations are the hand-written tests' business; compare labels only.
    tests = [{"interval": "1m", "input_series": series, "alert_rule_test": cases}]
    rule = load_prometheus_rule(DRIFT_RULE)
    for group in rule["spec"]["groups"]:
        for item in group["rules"]:
            item.pop("annotations", None)

    result = _promtool_test(rule, tests, tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert {"severity": severity} in [
        {"severity": alert["exp_labels"]["severity"]} for alert in cases[1]["exp_alerts"]
    ]
    assert severity not in [alert["exp_labels"]["severity"] for alert in cases[0]["exp_alerts"]]
