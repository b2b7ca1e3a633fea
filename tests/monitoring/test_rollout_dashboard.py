"""The "Model rollouts" dashboard shows what the judge's gates compare (identity, tenant
scoping and PromQL validity are checked in test_dashboard.py, as for every board)."""

from __future__ import annotations

from typing import Any

import pytest

from .dashboard_queries import DASHBOARDS_DIR, expressions, load
from .promql_names import metric_names


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return load(DASHBOARDS_DIR / "rollouts.json")


def test_it_compares_what_the_gates_compare(dashboard: dict[str, Any]) -> None:
    used = set().union(*(metric_names(expr) for _, expr in expressions(dashboard)))
    assert {
        "inference_rollout_requests_total",
        "inference_rollout_request_duration_seconds_bucket",
        "inference_rollout_predictions_total",
        "inference_shadow_rows_total",
        "inference_shadow_probability_difference_bucket",
        "rollout_judge_rollout_info",
        "rollout_judge_evaluations_total",
        "rollout_judge_actions_total",
    } <= used
