"""The Grafana dashboards: structure, datasource handling, PromQL validity, provisioning."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops.tree.render import kustomize_build

from .dashboard_queries import (
    DASHBOARDS_DIR,
    MODEL_SERIES_PREFIXES,
    UnknownVariableError,
    dashboard_files,
    expressions,
    load,
    model_scope_problems,
    substitute_variables,
    variable_names,
)
from .promql_names import metric_names

PROMTOOL = shutil.which("promtool")
DASHBOARD = DASHBOARDS_DIR / "inference-service.json"
DRIFT_DASHBOARD = DASHBOARDS_DIR / "inference-drift.json"
ROLLOUTS_DASHBOARD = DASHBOARDS_DIR / "rollouts.json"
DATASOURCE_REF = "${datasource}"
# file -> (its uid, the service metric its tenant variable lists tenants of)
DASHBOARDS = {
    DASHBOARD.name: ("ml-inference-service", "inference_http_requests_total"),
    DRIFT_DASHBOARD.name: ("ml-inference-drift", "inference_drift_rows_total"),
    ROLLOUTS_DASHBOARD.name: ("ml-model-rollouts", "inference_http_requests_total"),
}


@pytest.fixture(scope="module", params=dashboard_files(), ids=lambda p: p.name)
def any_dashboard(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param.name, load(request.param)


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return load(DASHBOARD)


def test_every_dashboard_is_known_here() -> None:
    assert sorted(DASHBOARDS) == [path.name for path in dashboard_files()]


def _datasource_uids(node: Any) -> list[str]:
    """Every datasource uid anywhere in the dashboard JSON."""
    uids = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource" and isinstance(value, dict):
                uids.append(value.get("uid"))
            elif key == "datasource" and isinstance(value, str):
                uids.append(value)
            else:
                uids += _datasource_uids(value)
    elif isinstance(node, list):
        for item in node:
            uids += _datasource_uids(item)
    return uids


def test_dashboard_has_a_stable_identity(any_dashboard: tuple[str, dict[str, Any]]) -> None:
    name, dashboard = any_dashboard
    assert dashboard["uid"] == DASHBOARDS[name][0]
    assert dashboard["schemaVersion"] >= 39
    # The sidecar provisions it; an "id" would clash with Grafana's own database ids.
    assert "id" not in dashboard or dashboard["id"] is None


def test_no_datasource_uid_is_hard_coded(any_dashboard: tuple[str, dict[str, Any]]) -> None:
    uids = _datasource_uids(any_dashboard[1])

    assert uids, "panels should name their datasource"
    assert set(uids) <= {DATASOURCE_REF, "-- Grafana --"}, set(uids)


def test_template_variables(any_dashboard: tuple[str, dict[str, Any]]) -> None:
    name, dashboard = any_dashboard
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}

    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    tenant = variables["tenant"]
    query = tenant["query"]["query"] if isinstance(tenant["query"], dict) else tenant["query"]
    assert query == f"label_values({DASHBOARDS[name][1]}, tenant)"
    assert tenant["multi"] is True
    assert tenant["includeAll"] is True


def test_every_query_is_scoped_to_the_selected_tenants(
    any_dashboard: tuple[str, dict[str, Any]],
) -> None:
    unscoped = [
        where
        for where, expr in expressions(any_dashboard[1])
        if not where.startswith("variable") and '=~"$tenant"' not in expr
    ]

    assert unscoped == []


def test_panel_ids_are_unique(any_dashboard: tuple[str, dict[str, Any]]) -> None:
    ids = [panel["id"] for panel in any_dashboard[1]["panels"]]

    assert len(ids) == len(set(ids))


def test_dashboard_shows_what_the_platform_needs(dashboard: dict[str, Any]) -> None:
    used = set().union(*(metric_names(expr) for _, expr in expressions(dashboard)))

    assert {
        "inference_http_requests_total",
        "inference_http_request_duration_seconds_bucket",
        "inference_model_prediction_duration_seconds_bucket",
        "inference_batch_rows_bucket",
        "inference_model_info",
        "inference_model_reloads_total",
        "kube_deployment_status_replicas_available",
        "kube_deployment_spec_replicas",
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_status_desired_replicas",
        "kube_horizontalpodautoscaler_spec_max_replicas",
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        "kube_pod_container_resource_limits",
    } <= used
    annotation_names = {a["name"] for a in dashboard["annotations"]["list"]}
    assert "Model version change" in annotation_names


def test_drift_dashboard_shows_the_verdict_and_what_it_rests_on() -> None:
    board = load(DRIFT_DASHBOARD)
    used = set().union(*(metric_names(expr) for _, expr in expressions(board)))

    assert {
        "tenant_model_version:inference_drift_drifted_importance:warn1h",
        "tenant_model_version:inference_drift_drifted_importance:page1h",
        "tenant_model_version:inference_drift_rows:increase1h",
        "tenant_model_version:inference_drift_window_rows:max",
        "tenant_model_version_feature:inference_drift_psi:1h",
        "tenant_model_version_feature:inference_drift_js_distance:1h",
        "tenant_model_version_feature:inference_drift_psi_threshold:warn",
        "tenant_model_version_feature:inference_drift_psi_threshold:page",
        "tenant_model_version_feature:inference_drift_feature_importance:max",
        "inference_drift_chance_psi",
        "inference_drift_reference_share",
        "tenant_model_version_feature_bin:inference_drift_observed_share:ratio1h",
        "tenant_model_version:inference_drift_prediction_psi:1h",
        "tenant_model_version:inference_drift_prediction_psi_threshold:warn",
        "tenant_model_version_class:inference_drift_observed_prediction_share:ratio1h",
        "inference_drift_reference_prediction_share",
    } <= used
    # Per tenant and feature: every feature panel follows the feature variable too.
    feature_panels = [
        where
        for where, expr in expressions(board)
        if "inference_drift_psi" in expr or "observed_share" in expr
    ]
    assert feature_panels
    assert all(
        'feature=~"$feature"' in expr for _, expr in expressions(board) if "_feature" in expr
    )


def test_unknown_grafana_variables_are_rejected() -> None:
    assert substitute_variables('rate(x{a=~"$tenant"}[$__rate_interval])', {"tenant"}) == (
        'rate(x{a=~"placeholder"}[5m])'
    )
    with pytest.raises(UnknownVariableError, match=r"\$tenat"):
        substitute_variables('x{a=~"$tenat"}', {"tenant"})


@pytest.mark.skipif(PROMTOOL is None, reason="promtool missing: `make setup` installs it")
@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.name)
def test_every_dashboard_query_parses_as_promql(path: Path, tmp_path: Path) -> None:
    board = load(path)
    defined = variable_names(board)
    queries = expressions(board)
    # promtool has no "parse this expression" command; a recording rule per query makes
    # `check rules` parse every one of them offline.
    rules = [
        {"record": f"dashboard:query_{index}", "expr": substitute_variables(expr, defined)}
        for index, (_, expr) in enumerate(queries)
    ]
    rule_file = tmp_path / "dashboard-queries.rules.yaml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": path.stem, "rules": rules}]}))

    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(rule_file)], capture_output=True, text=True, check=False
    )

    assert queries
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_sidecar_provisions_the_dashboards() -> None:
    objects = list(yaml.safe_load_all(kustomize_build(DASHBOARDS_DIR)))
    config_maps = {o["metadata"]["name"]: o for o in objects if o and o["kind"] == "ConfigMap"}

    for path in dashboard_files():
        config_map = config_maps[f"grafana-dashboard-{path.stem}"]
        assert config_map["metadata"]["namespace"] == "monitoring"
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(config_map["data"][path.name]) == load(path)
    # Every dashboard in the folder is provisioned, not only the one above.
    provisioned = {key for o in config_maps.values() for key in o.get("data", {})}
    assert provisioned == {path.name for path in dashboard_files()}


def _about_models(expr: str) -> set[str]:
    return {name for name in metric_names(expr) if name.startswith(MODEL_SERIES_PREFIXES)}


def test_every_panel_on_a_models_series_follows_the_model_variable(
    any_dashboard: tuple[str, dict[str, Any]],
) -> None:
    _, board = any_dashboard
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["model"]["multi"] is True
    assert variables["model"]["includeAll"] is True
    queries = [(w, e) for w, e in expressions(board) if _about_models(e)]
    assert queries
    assert model_scope_problems(queries) == []


def test_the_model_scope_check_reports_a_panel_summing_models_by_tenant() -> None:
    planted = [
        (
            "panel 'Error ratio' A",
            'sum by (tenant) (rate(inference_http_requests_total{tenant=~"$tenant"}[5m]))',
        ),
        (
            "panel 'Per pod' A",
            'count by (tenant, pod) (inference_model_info{tenant=~"$tenant", model=~"$model"})',
        ),
    ]
    assert model_scope_problems(planted) == [
        "panel 'Error ratio' A: not filtered by the model variable",
        "panel 'Error ratio' A: by (tenant) sums the models together",
    ]
