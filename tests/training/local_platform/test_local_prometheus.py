"""The local Prometheus of `make up`: a real `prometheus` process, its scrape labels (as the
cluster's ServiceMonitor sets them), the platform's rules loaded, and a dead target reported."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from training.local_platform import prometheus_server as local_prometheus
from training.local_platform.ports import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs Debian's prometheus"),
]


def test_rule_groups_are_the_prometheusrule_specs_of_the_monitoring_base() -> None:
    names = [group["name"] for group in local_prometheus.rule_groups()]
    assert names, "no PrometheusRule under base/monitoring"
    assert len(names) == len(set(names)), names


def test_scrapes_with_cluster_labels_loads_rules_and_counts_dead_targets(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    Counter("probe_requests", "a series to scrape", registry=registry).inc(3)
    live_port = free_port()
    server, thread = start_http_server(live_port, addr="127.0.0.1", registry=registry)
    dead_port = free_port()  # nothing listens here
    prometheus = local_prometheus.start(
        tmp_path / "prometheus",
        free_port(),
        [
            local_prometheus.ScrapeTarget("tenant-live", f"127.0.0.1:{live_port}"),
            local_prometheus.ScrapeTarget("tenant-dead", f"127.0.0.1:{dead_port}"),
        ],
        scrape_interval="1s",
    )
    try:
        prometheus.wait_for_targets(1, timeout=20)
        series = prometheus.query("probe_requests_total")
        assert [s["metric"]["tenant"] for s in series] == ["tenant-live"]
        assert series[0]["metric"]["job"] == "inference-service"
        assert series[0]["value"][1] == "3"

        with pytest.raises(RuntimeError, match="scraped 1 of 2 services"):
            prometheus.wait_for_targets(2, timeout=2)

        rules_url = f"{prometheus.url}/api/v1/rules"
        with urllib.request.urlopen(rules_url, timeout=10) as response:  # noqa: S310 (loopback)
            loaded = [g["name"] for g in json.loads(response.read())["data"]["groups"]]
        assert sorted(loaded) == sorted(g["name"] for g in local_prometheus.rule_groups())
    finally:
        prometheus.stop()
        server.shutdown()
        thread.join(timeout=5)
    assert not prometheus.child.alive()


def test_missing_binary_is_a_named_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(local_prometheus.PrometheusMissing, match="Debian package `prometheus`"):
        local_prometheus.start(tmp_path / "p", free_port(), [])
