"""Every metric the dashboards and rules query exists: the service's own ones in a real
scrape of the service, the platform's ones in an explicit allowlist, the recorded ones in a
recording rule."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from .alert_rules import all_rules, recorded_names
from .dashboard_queries import dashboard_files, expressions, load
from .metrics_contract import (
    ALIAS,
    MODEL_NAME,
    SECOND_MODEL,
    is_judge_metric,
    is_service_metric,
    missing_service_metrics,
    platform_allowlist,
)
from .promql_names import metric_names


def queried_metrics() -> set[str]:
    """Every name an alerting or recording rule or a dashboard query selects."""
    exprs = [rule["expr"] for rule in all_rules()]
    for path in dashboard_files():
        exprs += [expr for _, expr in expressions(load(path))]
    return set().union(*(metric_names(expr) for expr in exprs))


def used_metrics() -> set[str]:
    """The queried names something other than a recording rule must export."""
    return queried_metrics() - recorded_names()


def unrecorded(names: set[str], recorded: set[str]) -> list[str]:
    """Names in the form of a recording rule's (level:metric:operations) that no rule records:
    a typo there selects nothing, and nothing else would notice."""
    return sorted(name for name in names if name.count(":") >= 2 and name not in recorded)


def test_every_recorded_name_a_query_uses_is_recorded() -> None:
    assert recorded_names()
    assert unrecorded(queried_metrics(), recorded_names()) == []


def test_a_misspelt_recorded_name_is_reported() -> None:
    recorded = {"tenant:inference_drift_psi:1h"}

    assert unrecorded({"tenant:inference_drift_psl:1h", "up"}, recorded) == [
        "tenant:inference_drift_psl:1h"
    ]


def _exposition_with(names: set[str]) -> str:
    """A scrape of a registry that exports exactly the series `names`."""
    registry = CollectorRegistry()
    for name in sorted(names):
        if name.endswith(("_bucket", "_sum", "_count")):
            base = name.rsplit("_", 1)[0]
            if (
                base not in registry._names_to_collectors
            ):  # one Histogram per _bucket/_sum/_count trio
                Histogram(base, "test", registry=registry)
        elif name.endswith("_total"):
            Counter(name, "test", registry=registry)
        else:
            Gauge(name, "test", registry=registry)
    return generate_latest(registry).decode()


def test_the_queries_use_service_metrics_at_all() -> None:
    assert {name for name in used_metrics() if is_service_metric(name)}


def test_platform_metrics_are_exactly_the_allowlist() -> None:
    platform = {
        name for name in used_metrics() if not is_service_metric(name) and not is_judge_metric(name)
    }
    allowlist = platform_allowlist()

    assert sorted(platform - allowlist) == [], "queried but not allowlisted"
    assert sorted(allowlist - platform) == [], "allowlisted but no query uses it"


def test_checker_accepts_an_exposition_with_every_name() -> None:
    used = {name for name in used_metrics() if is_service_metric(name)}

    assert missing_service_metrics(used, _exposition_with(used)) == []


def test_checker_reports_a_renamed_metric() -> None:
    used = {name for name in used_metrics() if is_service_metric(name)}
    renamed = {name for name in used if name.startswith("inference_batch_rows")}
    exposition = _exposition_with(used).replace("inference_batch_rows", "inference_batch_size")

    assert renamed
    assert missing_service_metrics(used, exposition) == sorted(renamed)


@pytest.mark.integration
def test_service_exports_every_metric_the_queries_use(scraped_metrics: str) -> None:
    used = used_metrics()

    assert missing_service_metrics(used, scraped_metrics) == []


@pytest.mark.integration
def test_checker_reports_a_rename_in_the_real_scrape(scraped_metrics: str) -> None:
    renamed = scraped_metrics.replace("inference_model_info", "inference_model_information")

    assert missing_service_metrics(used_metrics(), renamed) == ["inference_model_info"]


@pytest.mark.integration
def test_label_values_the_queries_select_are_exported(scraped_metrics: str) -> None:
    samples = [
        sample
        for family in text_string_to_metric_families(scraped_metrics)
        for sample in family.samples
    ]

    def has(name: str, **labels: str) -> bool:
        return any(
            s.name == name and all(s.labels.get(k) == v for k, v in labels.items()) for s in samples
        )

    # The alerts and panels filter on these; a relabelled route or result would
    # silently turn them into queries that never match. Every series about a model says
    # which model, one service serving two.
    for model in (MODEL_NAME, SECOND_MODEL):
        route = "/models/{name}/predict"
        assert has(
            "inference_http_requests_total", route=route, model=model, method="POST", status="200"
        )
        assert has("inference_http_request_duration_seconds_bucket", route=route, model=model)
        # Present at zero before any reload: increase() misses a counter's first increment.
        for result in ("success", "failure", "refused"):
            assert has("inference_model_reloads_total", model=model, result=result)
        assert has("inference_model_info", model=model, version="1", alias=ALIAS)
        assert has("inference_model_memory_bytes", model=model)
        assert has("inference_model_prediction_duration_seconds_count", model=model)
        assert has("inference_predictions_total", model=model)
    assert has(
        "inference_model_info", model=MODEL_NAME, version="1", alias=ALIAS, runtime="sklearn"
    )
    # One inference_model_info series per model.
    assert len([s for s in samples if s.name == "inference_model_info"]) == 2
    # The rollout of the first model is its own.
    assert has("inference_rollout_candidate_info", model=MODEL_NAME, mode="shadow")
    assert not has("inference_rollout_candidate_info", model=SECOND_MODEL)
    # Drift: every bin of every feature from the start (the missing one too), the reference
    # beside it with the bin's range, labelled with the version they belong to.
    drift = {"model": MODEL_NAME, "version": "1"}
    assert has("inference_drift_bin_rows_total", feature="petal_width", bin="0", **drift)
    assert has("inference_drift_bin_rows_total", feature="petal_width", bin="missing", **drift)
    assert has("inference_drift_reference_share", feature="petal_width", bin="missing", **drift)
    assert any(
        s.name == "inference_drift_reference_share" and s.labels.get("range", "").startswith("(")
        for s in samples
    )
    assert has("inference_drift_prediction_rows_total", **{"class": "0"}, **drift)
    # `tenant` comes from the ServiceMonitor; a service-side label would clash with it.
    assert not [s for s in samples if "tenant" in s.labels or "namespace" in s.labels]
