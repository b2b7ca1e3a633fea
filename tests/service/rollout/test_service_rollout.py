"""Two real replicas of the service following a candidate through a real MLflow registry:
shadow answers from stable and compares off the response path, canary splits by key and by
an exact running share, a failing candidate never fails a request, a float32 candidate never
answers for a value it would take as infinity, a candidate with another signature is refused,
and an aborted one is dropped."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.models import (
    iris_failing_on_long_sepals,
    iris_forest,
    iris_frame,
    iris_logistic,
    iris_two_features,
    log_and_register,
)
from tests.support.rollouts import policy_document, put_candidate, set_state, write_policy
from tests.support.servers import Service, start_service
from training.local_platform import processes
from training.local_platform.registry_server import RegistryServer
from training.rollout.policy import parse_policy
from training.rollout.state import ABORTED

pytestmark = pytest.mark.integration
MODEL = "rollout-service-iris"
TENANT = "tenant-r"
POLICY = policy_document()


@pytest.fixture(scope="module")
def replicas(
    registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Service]]:
    log_and_register(registry.url, MODEL, *iris_logistic(), alias="staging")
    folder = tmp_path_factory.mktemp("rollout-service")
    policy = write_policy(folder / "rollout.yaml", POLICY)
    settings = {
        "MODEL_URI": f"models:/{MODEL}@staging",
        "MLFLOW_TRACKING_URI": registry.url,
        "RELOAD_INTERVAL_SECONDS": "0.5",
        "ROLLOUT_POLICY_FILE": str(policy),
        "TENANT": TENANT,
        "LOG_LEVEL": "WARNING",
    }
    services = [start_service(settings, folder, wait_ready=False) for _ in range(2)]
    try:
        for service in services:
            processes.wait_until(
                service.child, lambda s=service: processes.http_ok(f"{s.url}/ready"), 180
            )
        yield services
    finally:
        for service in services:
            service.stop()


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def rollout_of(service: Service) -> dict[str, Any]:
    return service.get("/model/info").json()["rollout"]


def wait_for_route(
    services: list[Service], version: str | None, mode: str | None, weight: int = 0
) -> None:
    def on_every_replica() -> bool:
        return all(
            (r["candidate_version"], r["mode"], r["weight"]) == (version, mode, weight)
            for r in map(rollout_of, services)
        )

    wait_for(on_every_replica, f"candidate {version} {mode} {weight} on every replica")


def samples(service: Service, name: str, **labels: str) -> float:
    text = service.get("/metrics").text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


ROWS = iris_frame()[0].values.tolist()


def test_shadow_answers_from_stable_and_compares_off_the_response_path(
    registry: RegistryServer, replicas: list[Service]
) -> None:
    version = log_and_register(registry.url, MODEL, *iris_logistic())
    put_candidate(registry.url, MODEL, version, POLICY, TENANT)
    wait_for_route(replicas, version, "shadow")
    with httpx.Client(timeout=30) as client:
        for index in range(40):
            service = replicas[index % 2]
            response = client.post(f"{service.url}/predict", json=ROWS[index : index + 3])
            assert response.status_code == 200, response.text
            assert response.json()["model"]["version"] == "1"
            assert response.headers["x-rollout-role"] == "stable"
            assert response.headers["x-model-version"] == "1"
    # 20 requests of 3 rows per replica, each compared once the candidate got to them.
    for service in replicas:
        wait_for(
            lambda s=service: samples(s, "inference_shadow_rows_total", version=version) == 60,
            "every shadow row compared",
        )
        assert (
            samples(service, "inference_shadow_rows_total", version=version, result="agree") == 60
        )
        assert (
            samples(
                service,
                "inference_rollout_requests_total",
                role="candidate",
                version=version,
                result="success",
            )
            == 20
        )
        assert (
            samples(
                service,
                "inference_rollout_requests_total",
                role="stable",
                version="1",
                result="success",
            )
            == 20
        )
        assert samples(service, "inference_rollout_candidate_share_ratio") == 0


def test_canary_splits_by_key_across_replicas_and_exactly_without_one(
    registry: RegistryServer, replicas: list[Service]
) -> None:
    version = log_and_register(registry.url, MODEL, *iris_logistic())
    state = put_candidate(registry.url, MODEL, version, POLICY, TENANT, step=1)
    wait_for_route(replicas, version, "canary", 10)
    answered: dict[str, set[str]] = {}
    with httpx.Client(timeout=30) as client:
        for index in range(300):
            key = f"user-{index}"
            for service in replicas:
                response = client.post(
                    f"{service.url}/predict", json=ROWS[0], headers={"x-routing-key": key}
                )
                assert response.status_code == 200, response.text
                assert response.json()["model"]["version"] == response.headers["x-model-version"]
                answered.setdefault(key, set()).add(response.headers["x-model-version"])
        # One version per key, whichever replica answers.
        assert all(len(versions) == 1 for versions in answered.values())
        share = sum(versions == {version} for versions in answered.values()) / len(answered)
        assert 0.05 <= share <= 0.15, share
        # Without a key: exactly 10 of every 100 requests on each replica.
        for service in replicas:
            roles = [
                client.post(f"{service.url}/invocations", json={"inputs": [ROWS[0]]}).headers[
                    "x-rollout-role"
                ]
                for _ in range(100)
            ]
            assert roles.count("candidate") == 10

    policy = parse_policy(POLICY)
    set_state(registry.url, state.at_step(policy, 2, time.time()))
    wait_for_route(replicas, version, "canary", 50)
    for service in replicas:
        assert samples(service, "inference_rollout_candidate_share_ratio") == 0.5
        info = samples(service, "inference_rollout_candidate_info", version=version, mode="canary")
        assert info == 1


def test_a_failing_candidate_never_fails_a_request(
    registry: RegistryServer, replicas: list[Service]
) -> None:
    version = log_and_register(registry.url, MODEL, *iris_failing_on_long_sepals())
    put_candidate(registry.url, MODEL, version, POLICY, TENANT, step=2)
    wait_for_route(replicas, version, "canary", 50)
    long_sepals = [row for row in ROWS if row[0] > 7.0]
    with httpx.Client(timeout=30) as client:
        for index, row in enumerate(long_sepals * 4):
            response = client.post(
                f"{replicas[index % 2].url}/predict",
                json=row,
                headers={"x-routing-key": str(index)},
            )
            assert response.status_code == 200, response.text
            # Whoever was picked, only the stable version can score these rows.
            assert response.headers["x-model-version"] == "1"
    errors = sum(
        samples(
            s, "inference_rollout_requests_total", role="candidate", version=version, result="error"
        )
        for s in replicas
    )
    assert 0 < errors < len(long_sepals) * 4


def test_a_float32_candidate_never_answers_for_a_value_beyond_float32(
    registry: RegistryServer, replicas: list[Service]
) -> None:
    """Stable (the pickle) takes 1e300; the candidate, served by onnxruntime in float32, would
    take it as infinity, and a forest scores infinity like any large value: stable answers
    such rows, in shadow the candidate skips them."""
    version = log_and_register(registry.url, MODEL, *iris_forest(), onnx=True)
    state = put_candidate(registry.url, MODEL, version, POLICY, TENANT)
    wait_for_route(replicas, version, "shadow")
    huge = [1e300, *ROWS[0][1:]]
    with httpx.Client(timeout=30) as client:
        for service in replicas:
            for _ in range(3):
                assert client.post(f"{service.url}/predict", json=[huge]).status_code == 200
        for service in replicas:
            skipped = samples(
                service, "inference_shadow_skipped_total", version=version, reason="values"
            )
            assert skipped == 3

        set_state(registry.url, state.at_step(parse_policy(POLICY), 2, time.time()))
        wait_for_route(replicas, version, "canary", 50)
        by_key = {}
        for index in range(40):
            key = {"x-routing-key": f"key-{index}"}
            plain = client.post(f"{replicas[0].url}/predict", json=ROWS[0], headers=key)
            beyond = client.post(f"{replicas[0].url}/predict", json=huge, headers=key)
            assert (plain.status_code, beyond.status_code) == (200, 200), beyond.text
            by_key[index] = (plain.headers["x-model-version"], beyond.headers["x-model-version"])
    assert {plain for plain, _ in by_key.values()} == {"1", version}  # the candidate answers
    assert {beyond for _, beyond in by_key.values()} == {"1"}  # but never for 1e300


def test_another_signature_is_refused_and_an_aborted_candidate_dropped(
    registry: RegistryServer, replicas: list[Service]
) -> None:
    narrow = log_and_register(registry.url, MODEL, *iris_two_features())
    put_candidate(registry.url, MODEL, narrow, POLICY, TENANT)
    wait_for(
        lambda: all(
            "changes the signature" in (rollout_of(s)["last_error"] or "") for s in replicas
        ),
        "the candidate refused on every replica",
    )
    assert [rollout_of(s)["candidate_version"] for s in replicas] == [None, None]
    assert all(s.post("/predict", ROWS[0]).status_code == 200 for s in replicas)

    version = log_and_register(registry.url, MODEL, *iris_logistic())
    state = put_candidate(registry.url, MODEL, version, POLICY, TENANT)
    wait_for_route(replicas, version, "shadow")
    set_state(registry.url, replace(state, status=ABORTED))
    wait_for_route(replicas, None, None)
    for service in replicas:
        assert samples(service, "inference_rollout_candidate_info") == 0
        assert "x-rollout-role" not in service.post("/predict", ROWS[0]).headers
