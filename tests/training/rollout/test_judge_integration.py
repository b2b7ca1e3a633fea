"""The judge end to end: real MLflow, real services, real Prometheus (1 s scrapes) and the
judge as its own process. A good candidate goes shadow -> 10 % -> 50 % -> promoted, a bad one
(it disagrees with stable on a third of the rows) is aborted in shadow, client traffic sees
no failed request during either, and a rollout with no traffic stays inconclusive."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.models import (
    iris_disagreeing_on_a_third,
    iris_frame,
    iris_logistic,
    log_and_register,
)
from tests.support.rollouts import Traffic, policy_document, put_candidate, write_policy
from tests.support.servers import REPO_ROOT, STARTED, Service, start_service
from training.local_platform import processes
from training.local_platform import prometheus_server as local_prometheus
from training.local_platform.ports import free_port
from training.local_platform.registry_server import RegistryServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs Debian's prometheus"),
]
ROWS = iris_frame()[0].values.tolist()
POLICY = policy_document(
    steps=[
        {"mode": "shadow", "duration": "5s"},
        {"mode": "canary", "weight": 10, "duration": "5s"},
        {"mode": "canary", "weight": 50, "duration": "5s"},
    ],
    minRequests=20,
    autoPromote=True,
    gates={"errorRatio": {"maxIncrease": 0.15}, "agreement": {"min": 0.9}},
)
CASES = ("good", "bad", "idle")


@dataclass
class Platform:
    registry: RegistryServer
    prometheus: local_prometheus.LocalPrometheus
    services: dict[str, Service]
    folder: Path

    def model(self, case: str) -> str:
        return f"judge-{case}-iris"


@pytest.fixture(scope="module")
def platform(
    registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    folder = tmp_path_factory.mktemp("judge")
    policy = write_policy(folder / "rollout.yaml", POLICY)
    services: dict[str, Service] = {}
    for case in CASES:
        model = f"judge-{case}-iris"
        log_and_register(registry.url, model, *iris_logistic(), alias="staging")
        services[case] = start_service(
            {
                "MODEL_URI": f"models:/{model}@staging",
                "MLFLOW_TRACKING_URI": registry.url,
                "RELOAD_INTERVAL_SECONDS": "0.5",
                "ROLLOUT_POLICY_FILE": str(policy),
                "TENANT": f"tenant-{case}",
                "LOG_LEVEL": "WARNING",
            },
            folder,
            wait_ready=False,
        )
    prometheus = None
    try:
        for service in services.values():
            processes.wait_until(
                service.child, lambda s=service: processes.http_ok(f"{s.url}/ready"), 180
            )
        targets = [
            local_prometheus.ScrapeTarget(f"tenant-{case}", s.url.removeprefix("http://"))
            for case, s in services.items()
        ]
        prometheus = local_prometheus.start(folder / "prometheus", free_port(), targets, "1s")
        prometheus.wait_for_targets(len(targets), timeout=30)
        yield Platform(registry, prometheus, services, folder)
    finally:
        if prometheus is not None:
            prometheus.stop()
        for service in services.values():
            service.stop()


def start_judge(platform: Platform, model: str) -> tuple[processes.Child, int]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "MLFLOW_TRACKING_URI": platform.registry.url,
        "PROMETHEUS_URL": platform.prometheus.url,
        "JUDGE_INTERVAL_SECONDS": "1",
        "JUDGE_METRICS_PORT": str(port),
        "JUDGE_HOST": "127.0.0.1",
        "JUDGE_MODELS": model,
    }
    child = processes.start(
        "rollout judge",
        [sys.executable, "-m", "training.rollout.judge"],
        env,
        platform.folder / f"judge-{model}.log",
    )
    STARTED.append(child)
    processes.wait_until(child, lambda: processes.http_ok(f"http://127.0.0.1:{port}/healthz"), 30)
    return child, port


def judge_lines(child: processes.Child) -> list[dict[str, Any]]:
    lines = child.log_path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def rollout_tags(platform: Platform, model: str, version: str) -> tuple[dict, list[dict]]:
    from mlflow import MlflowClient

    tags = MlflowClient(platform.registry.url).get_model_version(model, version).tags
    return json.loads(tags["rollout.state"]), json.loads(tags["rollout.history"])


def wait_for_status(
    platform: Platform, model: str, version: str, statuses: set[str], timeout: float
) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state, _ = rollout_tags(platform, model, version)
        if state["status"] in statuses:
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"{model} v{version} still {state} after {timeout}s")
        time.sleep(0.5)


def aliases(platform: Platform, model: str) -> dict[str, str]:
    from mlflow import MlflowClient

    return dict(MlflowClient(platform.registry.url).get_registered_model(model).aliases)


def settled_aliases(platform: Platform, model: str, timeout: float = 10.0) -> dict[str, str]:
    """The aliases once the judge's promote or abort is complete. It records the end state
    first and deletes `<alias>-candidate` right after (so a service that still sees the alias
    already reads the end state): a reader that saw the state can be between the two writes."""
    deadline = time.monotonic() + timeout
    while True:
        found = aliases(platform, model)
        if not any(name.endswith("-candidate") for name in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_good_candidate_goes_shadow_10_50_and_is_promoted(platform: Platform) -> None:
    model, service = platform.model("good"), platform.services["good"]
    version = log_and_register(platform.registry.url, model, *iris_logistic())
    judge, port = start_judge(platform, model)
    try:
        with Traffic(service.url, ROWS) as traffic:
            started = time.monotonic()
            put_candidate(platform.registry.url, model, version, POLICY, "tenant-good")
            wait_for_status(platform, model, version, {"promoted", "aborted"}, timeout=75)
            took = time.monotonic() - started
        state, history = rollout_tags(platform, model, version)
        assert state["status"] == "promoted", history
        assert [(e["action"], e["weight"]) for e in history] == [
            ("start", 0), ("advance", 10), ("advance", 50), ("promote", 100),
        ]  # fmt: skip
        assert "agreement pass" in history[1]["evidence"]
        assert settled_aliases(platform, model) == {"staging": version, "staging-previous": "1"}
        assert traffic.failed == []
        assert traffic.by_version.get(version, 0) > 0  # the candidate answered in canary
        evaluations = [e for e in judge_lines(judge) if e["event"] == "evaluation"]
        assert {e["mode"] for e in evaluations} == {"shadow", "canary"}
        assert all(e["verdict"] != "failure" for e in evaluations)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        promoted = f'action="promote",model="{model}",tenant="tenant-good"'
        assert f"rollout_judge_actions_total{{{promoted}}} 1.0" in metrics
        print(
            f"\ngood candidate promoted {took:.1f}s after start, {traffic.sent} requests, 0 failed"
        )
    finally:
        judge.stop()


def test_bad_candidate_is_aborted_in_shadow_without_a_failed_request(platform: Platform) -> None:
    model, service = platform.model("bad"), platform.services["bad"]
    version = log_and_register(platform.registry.url, model, *iris_disagreeing_on_a_third())
    judge, _ = start_judge(platform, model)
    try:
        with Traffic(service.url, ROWS, keyed=True) as traffic:
            started = time.monotonic()
            put_candidate(platform.registry.url, model, version, POLICY, "tenant-bad")
            state = wait_for_status(platform, model, version, {"aborted", "promoted"}, timeout=60)
            took = time.monotonic() - started
            time.sleep(1.5)  # traffic goes on while the replicas drop the candidate
        assert state["status"] == "aborted"
        assert state["mode"] == "shadow"
        _, history = rollout_tags(platform, model, version)
        assert [e["action"] for e in history] == ["start", "abort"]
        assert "agreement fail" in history[-1]["evidence"]
        settled = settled_aliases(platform, model)
        assert "staging-candidate" not in settled
        assert settled["staging"] == "1"
        assert traffic.failed == []
        # Shadow: every request was answered by the stable version.
        assert set(traffic.by_version) == {"1"}
        print(
            f"\nbad candidate aborted {took:.1f}s after start ({traffic.sent} requests, 0 failed)"
        )
    finally:
        judge.stop()


def test_a_rollout_without_traffic_stays_inconclusive(platform: Platform) -> None:
    model = platform.model("idle")
    version = log_and_register(platform.registry.url, model, *iris_logistic())
    judge, port = start_judge(platform, model)
    try:
        put_candidate(platform.registry.url, model, version, POLICY, "tenant-idle")
        state = wait_for_status(platform, model, version, {"paused", "aborted", "promoted"}, 30)
        time.sleep(2)  # a few more evaluations after the pause
        assert state["status"] == "paused"
        assert state["step"] == 0
        _, history = rollout_tags(platform, model, version)
        assert [e["action"] for e in history] == ["start", "pause"]
        evaluations = [e for e in judge_lines(judge) if e["event"] == "evaluation"]
        assert len(evaluations) >= 5
        assert {e["verdict"] for e in evaluations} == {"inconclusive"}
        assert all(e["reason"].startswith("too little traffic: 0 of 20") for e in evaluations)
        assert aliases(platform, model)["staging-candidate"] == version
        # Every judge metric the alerts and dashboards query is in a real scrape.
        from tests.monitoring.metrics_contract import exported_series_names, is_judge_metric
        from tests.monitoring.test_metrics_contract import used_metrics

        scrape = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        used = {name for name in used_metrics() if is_judge_metric(name)}
        assert used
        assert sorted(used - exported_series_names(scrape)) == []
    finally:
        judge.stop()
