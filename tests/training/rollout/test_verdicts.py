"""The judge's rules on numbers: Wilson bounds, the class-shift margin, every gate's pass,
fail and inconclusive, too little traffic, and the action each evaluation calls for."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.rollouts import policy_document
from training.rollout.evidence import Evidence
from training.rollout.exposition import JudgeMetrics
from training.rollout.policy import parse_policy
from training.rollout.state import AWAITING_PROMOTION, PAUSED, initial_state
from training.rollout.stats import (
    bucket_quantile,
    count_above,
    total_variation,
    total_variation_margin,
    wilson,
    z_for,
)
from training.rollout.verdicts import evaluate

NOW = 1_000_000.0
POLICY = parse_policy(policy_document(minRequests=50))
IRIS = {"0": 50.0, "1": 50.0, "2": 50.0}
BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, math.inf)


def histogram(seconds: list[float]) -> list[tuple[float, float]]:
    """Cumulative buckets as the service's latency histogram exports them."""
    return [(bound, float(sum(1 for s in seconds if s <= bound))) for bound in BOUNDS]


def good(n: float = 300, **changes: object) -> Evidence:
    evidence = Evidence(
        window_seconds=10,
        requests={"candidate": n, "stable": n},
        errors={"candidate": 0.0, "stable": 0.0},
        latency={"candidate": histogram([0.002] * int(n)), "stable": histogram([0.002] * int(n))},
        agree=n,
        disagree=0,
        classes={"candidate": dict(IRIS), "stable": dict(IRIS)},
    )
    return replace(evidence, **changes)


def state_at(step: int, elapsed: float, **changes: object):
    state = initial_state(POLICY, "m", "t", "1", "2", NOW - elapsed)
    if step:
        state = state.at_step(POLICY, step, NOW - elapsed)
    return replace(state, **changes)


def test_wilson_bounds() -> None:
    z = z_for(0.95)
    assert z == pytest.approx(1.6449, abs=1e-4)
    low, high = wilson(0, 30, z)
    assert low == 0
    assert high == pytest.approx(z * z / (30 + z * z))  # the bound at zero successes
    low, high = wilson(20, 30, z)
    assert low < 20 / 30 < high
    assert wilson(0, 0, z) == (0.0, 1.0)
    # More evidence, narrower bounds around the same ratio.
    assert wilson(2000, 3000, z)[0] > wilson(20, 30, z)[0]


def test_bucket_quantile_and_count_above_interpolate_like_prometheus() -> None:
    # 100 observations: 50 in (0, 1], 50 in (1, 2].
    buckets = [(1.0, 50.0), (2.0, 100.0), (math.inf, 100.0)]
    assert bucket_quantile(buckets, 0.5) == 1.0
    assert bucket_quantile(buckets, 0.75) == pytest.approx(1.5)
    assert bucket_quantile(buckets, 0.25) == pytest.approx(0.5)
    assert bucket_quantile([(1.0, 0.0), (math.inf, 10.0)], 0.9) == 1.0  # in +Inf: last bound
    assert bucket_quantile([(1.0, 0.0), (math.inf, 0.0)], 0.9) is None
    assert count_above(buckets, 1.5) == pytest.approx(25)
    assert count_above(buckets, 0.5) == pytest.approx(75)
    assert count_above(buckets, 5.0) == 0
    assert count_above([(1.0, 10.0), (math.inf, 12.0)], 3.0) == 2


def test_total_variation_and_its_margin() -> None:
    shifted = {"0": 50.0, "1": 100.0, "2": 0.0}
    assert total_variation(IRIS, IRIS) == 0
    assert total_variation(IRIS, shifted) == pytest.approx(1 / 3)
    assert total_variation({"a": 1.0}, {"b": 1.0}) == 1
    assert total_variation_margin(IRIS, IRIS, 1.645) > total_variation_margin(
        {k: 10 * v for k, v in IRIS.items()}, {k: 10 * v for k, v in IRIS.items()}, 1.645
    )


def test_a_good_step_waits_out_its_duration_then_advances() -> None:
    early = evaluate(POLICY, state_at(0, 1), good(), NOW)
    assert (early.verdict, early.action) == ("success", "wait")
    assert "3s left in the step" in early.reason
    done = evaluate(POLICY, state_at(0, 5), good(), NOW)
    assert (done.verdict, done.action) == ("success", "advance")
    assert [g.gate for g in done.gates] == ["errorRatio", "latency", "agreement", "classShift"]
    assert all(g.verdict == "pass" for g in done.gates)
    # Canary steps have no agreement gate (different requests), the last step ends it.
    canary = evaluate(POLICY, state_at(1, 5), good(), NOW)
    assert "agreement" not in [g.gate for g in canary.gates]
    last = evaluate(POLICY, state_at(2, 5), good(), NOW)
    assert last.action == "await-promotion"
    auto = replace(POLICY, auto_promote=True)
    assert evaluate(auto, state_at(2, 5), good(), NOW).action == "promote"


def test_too_little_traffic_is_inconclusive_never_a_failure() -> None:
    broken = good(n=49, errors={"candidate": 49.0, "stable": 0.0}, agree=0, disagree=49)
    evaluation = evaluate(POLICY, state_at(0, 5), broken, NOW)
    assert evaluation.verdict == "inconclusive"
    assert evaluation.reason == "too little traffic: 49 of 50 candidate requests in 10s"
    assert evaluation.action == "pause"
    # Once paused it stays paused (recorded once), and waits.
    assert evaluate(POLICY, state_at(0, 5, status=PAUSED), broken, NOW).action == "wait"
    # A paused rollout whose evidence settles proceeds.
    assert evaluate(POLICY, state_at(0, 60, status=PAUSED), good(), NOW).action == "advance"


def test_disagreeing_on_a_third_of_the_rows_aborts_in_shadow_at_once() -> None:
    shifted = {"0": 50.0, "1": 100.0, "2": 0.0}
    bad = good(n=60, agree=40, disagree=20, classes={"candidate": shifted, "stable": dict(IRIS)})
    evaluation = evaluate(POLICY, state_at(0, 1), bad, NOW)
    assert (evaluation.verdict, evaluation.action) == ("failure", "abort")
    verdicts = {g.gate: g.verdict for g in evaluation.gates}
    assert verdicts["agreement"] == "fail"
    assert "40/60 rows agree" in evaluation.summary()


def test_errors_latency_and_class_shift_each_fail_alone() -> None:
    errors = good(errors={"candidate": 30.0, "stable": 0.0})
    assert {g.gate: g.verdict for g in evaluate(POLICY, state_at(1, 1), errors, NOW).gates}[
        "errorRatio"
    ] == "fail"
    slow = good(latency={"candidate": histogram([0.04] * 300), "stable": histogram([0.008] * 300)})
    assert evaluate(POLICY, state_at(1, 1), slow, NOW).action == "abort"
    # Twice as slow but by less than the tolerance (5 ms): not a failure.
    quick = good(
        latency={"candidate": histogram([0.002] * 300), "stable": histogram([0.0009] * 300)}
    )
    assert evaluate(POLICY, state_at(1, 5), quick, NOW).action == "advance"
    # A tail: 7% of candidate requests slow where 5% may be: over 300 requests the lower
    # bound is still under 5%, so it passes; the same share over 3000 fails.
    tail = [0.002] * 279 + [0.2] * 21
    some = good(latency={"candidate": histogram(tail), "stable": histogram([0.002] * 300)})
    assert {g.gate: g.verdict for g in evaluate(POLICY, state_at(1, 5), some, NOW).gates}[
        "latency"
    ] == "pass"
    many = good(
        n=3000, latency={"candidate": histogram(tail * 10), "stable": histogram([0.002] * 300)}
    )
    assert {g.gate: g.verdict for g in evaluate(POLICY, state_at(1, 5), many, NOW).gates}[
        "latency"
    ] == "fail"
    skewed = good(classes={"candidate": {"0": 300.0}, "stable": dict(IRIS)})
    assert {g.gate: g.verdict for g in evaluate(POLICY, state_at(1, 1), skewed, NOW).gates}[
        "classShift"
    ] == "fail"


def test_borderline_evidence_is_inconclusive() -> None:
    # 96% agreement over 100 rows: the bounds straddle the 95% minimum.
    borderline = good(n=100, agree=96, disagree=4)
    evaluation = evaluate(POLICY, state_at(0, 1), borderline, NOW)
    assert evaluation.verdict == "inconclusive"
    assert "agreement" in evaluation.reason
    # No errors in 60 requests: the upper bound (4.3%) is above the allowed 1% increase.
    policy = parse_policy(policy_document(minRequests=50))
    assert {g.gate: g.verdict for g in evaluate(policy, state_at(1, 1), good(n=60), NOW).gates}[
        "errorRatio"
    ] == "inconclusive"


def test_awaiting_promotion_waits_but_still_aborts() -> None:
    waiting = state_at(2, 50, status=AWAITING_PROMOTION)
    assert evaluate(POLICY, waiting, good(), NOW).action == "wait"
    bad = good(errors={"candidate": 100.0, "stable": 0.0})
    assert evaluate(POLICY, waiting, bad, NOW).action == "abort"


def test_evaluation_encodes_within_the_tag_limit() -> None:
    encoded = evaluate(POLICY, state_at(0, 5), good(), NOW).encode()
    assert len(encoded) < 2000


def test_judge_metrics_exposition_parses() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    metrics = JudgeMetrics()
    metrics.seen("tenant-a", "tenant-a-iris")
    metrics.inc(
        "rollout_judge_actions_total",
        {"tenant": "tenant-a", "model": "tenant-a-iris", "action": "abort"},
    )
    metrics.replace_gauges([("rollout_judge_rollout_info", {"tenant": 'te"st', "model": "m"}, 1.0)])
    families = {f.name: f for f in text_string_to_metric_families(metrics.render())}
    actions = {s.labels["action"]: s.value for s in families["rollout_judge_actions"].samples}
    assert actions == {
        "abort": 1.0,
        "advance": 0.0,
        "await-promotion": 0.0,
        "pause": 0.0,
        "promote": 0.0,
    }
    assert families["rollout_judge_rollout_info"].samples[0].labels["tenant"] == 'te"st'


def test_the_judge_package_needs_nothing_but_the_standard_library(tmp_path: Path) -> None:
    """Its image copies training/rollout alone: no mlflow, no yaml, no training package."""
    import shutil

    source = Path(__file__).resolve().parents[3] / "training" / "rollout"
    shutil.copytree(source, tmp_path / "rollout", ignore=shutil.ignore_patterns("__pycache__"))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import rollout.judge, rollout.actions, rollout.verdicts, rollout.evidence;"
        "sys.exit(rollout.judge.main(['--help']))"
    )
    # -S: no site-packages at all, only the standard library.
    result = subprocess.run(
        [sys.executable, "-S", "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Evaluate every active model rollout" in result.stdout
