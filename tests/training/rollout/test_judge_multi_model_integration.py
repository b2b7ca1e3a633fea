"""Two models of one tenant, each in its own rollout at the same time, judged independently
by one judge: real MLflow, real services, real Prometheus (1 s scrapes), the judge as its own
process. Both candidates are version 2 against a stable version 1 in the same tenant, so the
only thing that tells their series apart is the `model` label: the good candidate must be
promoted and the bad one (it disagrees with stable on a third of the rows) aborted.

Each service here serves one model, as a service before issue 22 does; the scrape gives its
series the `model` label the service exports itself once it serves several models (a target
label: when the service exports it too, Prometheus keeps the target's, the same value)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
TENANT = "tenant-multi"
MODELS = {"good": f"{TENANT}-good", "bad": f"{TENANT}-bad"}
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


@dataclass
class Platform:
    registry: RegistryServer
    prometheus: local_prometheus.LocalPrometheus
    services: dict[str, Service]
    folder: Path


def with_model_labels(models_by_address: dict[str, str]) -> Any:
    """local_prometheus.config, with each service target labelled with the model it serves."""
    original = local_prometheus.config

    def config(*args: Any, **kwargs: Any) -> dict[str, Any]:
        document = original(*args, **kwargs)
        for job in document["scrape_configs"]:
            for static in job["static_configs"]:
                model = models_by_address.get(static["targets"][0])
                if model:
                    static.setdefault("labels", {})["model"] = model
        return document

    return config


@pytest.fixture(scope="module")
def platform(
    registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    folder = tmp_path_factory.mktemp("judge-multi")
    policy = write_policy(folder / "rollout.yaml", POLICY)
    services: dict[str, Service] = {}
    for case, model in MODELS.items():
        log_and_register(registry.url, model, *iris_logistic(), alias="staging")
        services[case] = start_service(
            {
                "MODEL_URI": f"models:/{model}@staging",
                "MLFLOW_TRACKING_URI": registry.url,
                "RELOAD_INTERVAL_SECONDS": "0.5",
                "ROLLOUT_POLICY_FILE": str(policy),
                "TENANT": TENANT,
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
        addresses = {s.url.removeprefix("http://"): MODELS[c] for c, s in services.items()}
        targets = [local_prometheus.ScrapeTarget(TENANT, address) for address in addresses]
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(local_prometheus, "config", with_model_labels(addresses))
            prometheus = local_prometheus.start(folder / "prometheus", free_port(), targets, "1s")
        prometheus.wait_for_targets(len(targets), timeout=30)
        yield Platform(registry, prometheus, services, folder)
    finally:
        if prometheus is not None:
            prometheus.stop()
        for service in services.values():
            service.stop()


def start_judge(platform: Platform) -> processes.Child:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "MLFLOW_TRACKING_URI": platform.registry.url,
        "PROMETHEUS_URL": platform.prometheus.url,
        "JUDGE_INTERVAL_SECONDS": "1",
        "JUDGE_METRICS_PORT": str(port),
        "JUDGE_HOST": "127.0.0.1",
        "JUDGE_MODELS": ",".join(MODELS.values()),
    }
    child = processes.start(
        "rollout judge",
        [sys.executable, "-m", "training.rollout.judge"],
        env,
        platform.folder / "judge.log",
    )
    STARTED.append(child)
    processes.wait_until(child, lambda: processes.http_ok(f"http://127.0.0.1:{port}/healthz"), 30)
    return child


def state_of(platform: Platform, model: str, version: str) -> tuple[dict, list[dict]]:
    import json

    from mlflow import MlflowClient

    tags = MlflowClient(platform.registry.url).get_model_version(model, version).tags
    return json.loads(tags["rollout.state"]), json.loads(tags["rollout.history"])


def test_two_rollouts_in_one_tenant_are_judged_each_on_its_own_series(
    platform: Platform,
) -> None:
    good, bad = MODELS["good"], MODELS["bad"]
    candidates = {
        good: log_and_register(platform.registry.url, good, *iris_logistic()),
        bad: log_and_register(platform.registry.url, bad, *iris_disagreeing_on_a_third()),
    }
    assert set(candidates.values()) == {"2"}  # the same version number in the same tenant
    judge = start_judge(platform)
    try:
        with (
            Traffic(platform.services["good"].url, ROWS, keyed=True) as good_traffic,
            Traffic(platform.services["bad"].url, ROWS, keyed=True) as bad_traffic,
        ):
            for model, version in candidates.items():
                put_candidate(platform.registry.url, model, version, POLICY, TENANT)
            deadline = time.monotonic() + 120
            while True:
                states = {m: state_of(platform, m, v)[0]["status"] for m, v in candidates.items()}
                if all(s in ("promoted", "aborted") for s in states.values()):
                    break
                assert time.monotonic() < deadline, f"still {states} after 120 s"
                time.sleep(0.5)
        good_state, good_history = state_of(platform, good, "2")
        bad_state, bad_history = state_of(platform, bad, "2")
        assert good_state["status"] == "promoted", good_history
        assert [e["action"] for e in good_history] == ["start", "advance", "advance", "promote"]
        assert "agreement pass" in good_history[1]["evidence"]
        assert bad_state["status"] == "aborted", bad_history
        assert bad_state["mode"] == "shadow"
        assert "agreement fail" in bad_history[-1]["evidence"]
        assert good_traffic.failed == []
        assert bad_traffic.failed == []
    finally:
        judge.stop()
