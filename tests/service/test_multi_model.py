"""One tenant service serving several models from a real MLflow registry (sqlite, artifacts in
S3 through the server's proxy), declared in a models.yaml as the cluster mounts it: every
route per model, each model swapping on its own, a broken version of one model leaving the
others serving and swapping, two rollouts at once with their own candidates and routing
headers, drift counted per model, and a version above its resource class refused."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.models import (
    IRIS_COLUMNS,
    iris_forest,
    iris_frame,
    iris_logistic,
    iris_oversized,
    iris_reference,
    log_and_register,
    set_alias,
    text_pipeline,
)
from tests.support.rollouts import policy_document, put_candidate, set_state, write_policy
from tests.support.servers import Service, s3_client, start_service, write_models_file
from training.local_platform.registry_server import RegistryServer
from training.rollout.state import ABORTED

pytestmark = pytest.mark.integration

TENANT = "tenant-m"
IRIS, FOREST, REVIEWS = f"{TENANT}-iris", f"{TENANT}-forest", f"{TENANT}-reviews"
ROWS = iris_frame()[0].values.tolist()
RECORD = dict(zip(IRIS_COLUMNS, ROWS[0], strict=True))
IRIS_POLICY = policy_document("staging", routingHeader="x-user")
FOREST_POLICY = policy_document("production", routingHeader="x-session")


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def metric(service: Service, name: str, **labels: str) -> float:
    """The sum of the samples of `name` with these labels (0 when none)."""
    return sum(
        s.value
        for family in text_string_to_metric_families(service.get("/metrics").text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def info(service: Service, model: str) -> dict[str, Any]:
    response = service.get(f"/models/{model}/info")
    assert response.status_code == 200, response.text
    return response.json()


def served(service: Service, model: str) -> str | None:
    response = service.get(f"/models/{model}/info")
    return response.json()["version"] if response.status_code == 200 else None


@dataclass
class Tenant:
    service: Service
    versions: dict[str, str]  # model -> the version its alias pointed at when it started


@pytest.fixture(scope="module")
def tenant(registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenant]:
    url = registry.url
    logistic, features = iris_logistic()
    forest, _ = iris_forest()
    reviews, texts = text_pipeline()
    versions = {
        IRIS: log_and_register(
            url,
            IRIS,
            logistic,
            features,
            alias="staging",
            drift_reference=iris_reference(logistic, features),
        ),
        FOREST: log_and_register(
            url,
            FOREST,
            forest,
            features,
            alias="production",
            drift_reference=iris_reference(forest, features),
        ),
        REVIEWS: log_and_register(url, REVIEWS, reviews, texts, alias="staging"),
    }
    folder = tmp_path_factory.mktemp("tenant-m")
    write_policy(folder / "iris-rollout.yaml", IRIS_POLICY)
    write_policy(folder / "forest-rollout.yaml", FOREST_POLICY)
    models_file = write_models_file(
        folder,
        {"name": IRIS, "alias": "staging", "rollout": "iris-rollout.yaml"},
        {"name": FOREST, "alias": "production", "rollout": "forest-rollout.yaml"},
        {"name": REVIEWS, "alias": "staging", "resources": "medium"},
    )
    service = start_service(
        {
            "MODELS_FILE": str(models_file),
            "ROLLOUT_POLICY_DIR": str(folder),
            "MLFLOW_TRACKING_URI": url,
            "RELOAD_INTERVAL_SECONDS": "0.5",
            "TENANT": TENANT,
            "LOG_LEVEL": "WARNING",
        },
        folder,
    )
    try:
        yield Tenant(service, versions)
    finally:
        service.stop()


def test_every_model_answers_on_its_own_routes(tenant: Tenant) -> None:
    service = tenant.service
    iris = service.post(f"/models/{IRIS}/predict", RECORD)
    assert iris.status_code == 200, iris.text
    assert iris.json()["model"]["name"] == IRIS
    forest = service.post(f"/models/{FOREST}/invocations", {"inputs": [ROWS[0]]})
    assert forest.json() == {"predictions": [0]}
    reviews = service.post(f"/models/{REVIEWS}/predict", [{"review": "great, love it"}])
    assert reviews.json()["predictions"] == ["positive"]
    inferred = service.post(
        f"/v2/models/{FOREST}/infer",
        {"inputs": [{"name": "rows", "shape": [1, 4], "datatype": "FP64", "data": ROWS[0]}]},
    )
    assert (inferred.json()["model_name"], inferred.json()["outputs"][0]["data"]) == (FOREST, [0])
    metadata = service.get(f"/v2/models/{REVIEWS}").json()
    assert [i["name"] for i in metadata["inputs"]] == ["review"]
    assert service.get(f"/v2/models/{IRIS}/ready").json() == {"name": IRIS, "ready": True}
    assert info(service, REVIEWS)["resources"]["class"] == "medium"

    ready = service.get("/ready")
    assert ready.status_code == 200
    assert {m["name"]: m["state"] for m in ready.json()["models"]} == {
        IRIS: "READY",
        FOREST: "READY",
        REVIEWS: "READY",
    }
    index = httpx.post(f"{service.url}/v2/repository/index", json={}, timeout=30).json()
    assert [(i["name"], i["state"]) for i in index] == [
        (IRIS, "READY"),
        (FOREST, "READY"),
        (REVIEWS, "READY"),
    ]

    refused = service.post("/predict", RECORD)
    assert refused.status_code == 404
    assert f"({IRIS}, {FOREST}, {REVIEWS}): use /models/{{name}}/predict" in refused.text
    unknown = service.post(f"/models/{TENANT}-nope/predict", RECORD)
    assert unknown.status_code == 404
    assert f"served: {IRIS}, {FOREST}, {REVIEWS}" in unknown.text
    assert (
        metric(
            service,
            "inference_http_requests_total",
            route="/models/{name}/predict",
            model=IRIS,
            status="200",
        )
        >= 1
    )


def test_each_model_swaps_on_its_own(registry: RegistryServer, tenant: Tenant) -> None:
    service = tenant.service
    new = log_and_register(registry.url, IRIS, *iris_forest())
    set_alias(registry.url, IRIS, "staging", new)
    wait_for(lambda: served(service, IRIS) == new, "the new iris version")
    assert served(service, FOREST) == tenant.versions[FOREST]
    assert served(service, REVIEWS) == tenant.versions[REVIEWS]
    # One inference_model_info series per model: the swap of one left the others'.
    infos = [
        s.labels
        for family in text_string_to_metric_families(service.get("/metrics").text)
        for s in family.samples
        if s.name == "inference_model_info"
    ]
    assert sorted((i["model"], i["version"]) for i in infos) == sorted(
        [(IRIS, new), (FOREST, tenant.versions[FOREST]), (REVIEWS, tenant.versions[REVIEWS])]
    )
    set_alias(registry.url, IRIS, "staging", tenant.versions[IRIS])
    wait_for(lambda: served(service, IRIS) == tenant.versions[IRIS], "iris back on its version")


def pickle_key(tracking_uri: str, name: str, version: str) -> str:
    """The S3 key of a proxied version's pickled estimator."""
    import mlflow

    location = mlflow.MlflowClient(tracking_uri).get_model_version_download_uri(name, version)
    return f"artifacts/{location.split(':', 1)[1].lstrip('/')}/model.pkl"


def test_a_broken_version_of_one_model_leaves_the_others_serving_and_swapping(
    registry: RegistryServer, s3_env: dict[str, str], tenant: Tenant
) -> None:
    service = tenant.service
    reviews, texts = text_pipeline()
    broken = log_and_register(registry.url, REVIEWS, reviews, texts)
    s3_client(s3_env).put_object(
        Bucket="mlflow", Key=pickle_key(registry.url, REVIEWS, broken), Body=b"not a pickle"
    )
    set_alias(registry.url, REVIEWS, "staging", broken)
    wait_for(
        lambda: f"v{broken}" in (info(service, REVIEWS)["last_error"] or ""),
        "the broken reviews version refused",
    )
    # Meanwhile the iris model takes a new version, and every model still answers.
    new = log_and_register(registry.url, IRIS, *iris_logistic())
    set_alias(registry.url, IRIS, "staging", new)
    wait_for(lambda: served(service, IRIS) == new, "the new iris version beside the broken one")
    assert served(service, REVIEWS) == tenant.versions[REVIEWS]
    assert service.post(f"/models/{REVIEWS}/predict", {"review": "awful"}).status_code == 200
    assert service.post(f"/models/{FOREST}/predict", RECORD).status_code == 200
    assert service.get("/ready").status_code == 200
    assert metric(service, "inference_model_reloads_total", model=REVIEWS, result="failure") >= 1
    assert metric(service, "inference_model_reloads_total", model=IRIS, result="failure") == 0
    assert metric(service, "inference_model_reloads_total", model=FOREST, result="failure") == 0
    assert info(service, IRIS)["last_error"] is None

    set_alias(registry.url, REVIEWS, "staging", tenant.versions[REVIEWS])
    set_alias(registry.url, IRIS, "staging", tenant.versions[IRIS])
    wait_for(lambda: info(service, REVIEWS)["last_error"] is None, "reviews healthy again")
    wait_for(lambda: served(service, IRIS) == tenant.versions[IRIS], "iris back on its version")


def rollout(service: Service, model: str) -> dict[str, Any]:
    return info(service, model)["rollout"]


def test_two_rollouts_at_once_each_with_its_candidate_and_routing_header(
    registry: RegistryServer, tenant: Tenant
) -> None:
    service = tenant.service
    iris_candidate = log_and_register(registry.url, IRIS, *iris_logistic())
    forest_candidate = log_and_register(registry.url, FOREST, *iris_forest())
    iris_state = put_candidate(registry.url, IRIS, iris_candidate, IRIS_POLICY, TENANT)
    forest_state = put_candidate(
        registry.url, FOREST, forest_candidate, FOREST_POLICY, TENANT, step=1
    )
    wait_for(
        lambda: (
            (rollout(service, IRIS)["candidate_version"], rollout(service, IRIS)["mode"])
            == (iris_candidate, "shadow")
        ),
        "the iris candidate in shadow",
    )
    wait_for(
        lambda: (
            (rollout(service, FOREST)["candidate_version"], rollout(service, FOREST)["weight"])
            == (forest_candidate, 10)
        ),
        "the forest candidate at 10%",
    )
    assert rollout(service, IRIS)["candidate_alias"] == "staging-candidate"
    assert rollout(service, FOREST)["candidate_alias"] == "production-candidate"
    assert rollout(service, FOREST)["routing_header"] == "x-session"
    try:
        with httpx.Client(timeout=30) as client:
            # Iris in shadow: stable answers every request, whatever the headers.
            for index in range(20):
                answer = client.post(
                    f"{service.url}/models/{IRIS}/predict",
                    json=ROWS[index],
                    headers={"x-user": f"u{index}", "x-session": f"s{index}"},
                )
                assert answer.headers["x-rollout-role"] == "stable"
                assert answer.headers["x-model-version"] == tenant.versions[IRIS]
            # Forest in canary: its own header keys the split, the same key one version.
            chosen: dict[str, set[str]] = {}
            for index in range(200):
                for _ in range(2):
                    answer = client.post(
                        f"{service.url}/models/{FOREST}/predict",
                        json=ROWS[index % len(ROWS)],
                        headers={"x-session": f"s{index}"},
                    )
                    chosen.setdefault(f"s{index}", set()).add(answer.headers["x-model-version"])
            assert all(len(versions) == 1 for versions in chosen.values())
            share = sum(v == {forest_candidate} for v in chosen.values()) / len(chosen)
            assert 0.03 <= share <= 0.2, share
            # Iris's header means nothing to the forest: without x-session, an exact 10 %.
            roles = [
                client.post(
                    f"{service.url}/models/{FOREST}/predict",
                    json=ROWS[0],
                    headers={"x-user": "same-user"},
                ).headers["x-rollout-role"]
                for _ in range(100)
            ]
            assert roles.count("candidate") == 10
        wait_for(
            lambda: metric(service, "inference_shadow_rows_total", model=IRIS) == 20,
            "every iris shadow row compared",
        )
        assert metric(service, "inference_shadow_rows_total", model=FOREST) == 0
        assert (
            metric(
                service,
                "inference_rollout_candidate_info",
                model=IRIS,
                version=iris_candidate,
                mode="shadow",
            )
            == 1
        )
        assert (
            metric(
                service,
                "inference_rollout_candidate_info",
                model=FOREST,
                version=forest_candidate,
                mode="canary",
            )
            == 1
        )
        assert metric(service, "inference_rollout_candidate_share_ratio", model=FOREST) == 0.1
        assert metric(service, "inference_rollout_candidate_share_ratio", model=IRIS) == 0
    finally:
        set_state(registry.url, replace(iris_state, status=ABORTED))
        set_state(registry.url, replace(forest_state, status=ABORTED))
    # Ending one model's rollout leaves nothing of it, and nothing of the other's, behind.
    wait_for(
        lambda: (
            rollout(service, IRIS)["candidate_version"] is None
            and rollout(service, FOREST)["candidate_version"] is None
        ),
        "both candidates dropped",
    )
    assert metric(service, "inference_rollout_candidate_info") == 0


def test_drift_is_counted_per_model_against_its_own_reference(tenant: Tenant) -> None:
    service = tenant.service
    before = {
        model: metric(service, "inference_drift_rows_total", model=model)
        for model in (IRIS, FOREST)
    }
    assert service.post(f"/models/{IRIS}/predict", ROWS[:7]).status_code == 200
    assert service.post(f"/models/{FOREST}/predict", ROWS[:3]).status_code == 200
    after = {
        model: metric(service, "inference_drift_rows_total", model=model)
        for model in (IRIS, FOREST)
    }
    assert after[IRIS] - before[IRIS] == 7
    assert after[FOREST] - before[FOREST] == 3
    assert info(service, IRIS)["drift"]["monitored"] is True
    assert info(service, FOREST)["drift"]["monitored"] is True
    assert info(service, REVIEWS)["drift"]["monitored"] is False  # registered without one
    assert metric(service, "inference_drift_rows_total", model=REVIEWS) == 0
    features = {
        s.labels["model"]
        for family in text_string_to_metric_families(service.get("/metrics").text)
        for s in family.samples
        if s.name == "inference_drift_reference_share"
    }
    assert features == {IRIS, FOREST}


def test_a_version_above_its_resource_class_is_refused_and_fits_a_larger_one(
    registry: RegistryServer, tmp_path: Path
) -> None:
    big, small = f"{TENANT}-big", f"{TENANT}-small"
    first = log_and_register(registry.url, big, *iris_logistic(), alias="staging")
    log_and_register(registry.url, small, *iris_logistic(), alias="staging")
    settings = {
        "MLFLOW_TRACKING_URI": registry.url,
        "RELOAD_INTERVAL_SECONDS": "0.5",
        "TENANT": TENANT,
        "LOG_LEVEL": "WARNING",
    }
    (tmp_path / "small-class").mkdir()
    as_small = start_service(
        {
            **settings,
            "MODELS_FILE": str(
                write_models_file(
                    tmp_path / "small-class",
                    {"name": big, "alias": "staging"},  # small: 16 MiB
                    {"name": small, "alias": "staging"},
                )
            ),
        },
        tmp_path,
    )
    try:
        assert info(as_small, big)["resources"]["measured_bytes"] < 16 * 1024 * 1024
        # A version of ~24 MiB: above small, within medium.
        oversized = log_and_register(registry.url, big, *iris_oversized(24))
        set_alias(registry.url, big, "staging", oversized)
        wait_for(
            lambda: (
                metric(as_small, "inference_model_reloads_total", model=big, result="refused") >= 1
            ),
            "the oversized version refused",
        )
        described = info(as_small, big)
        assert described["version"] == first  # still serving the one that fits
        refused = described["resources"]["refused"]
        assert refused["version"] == oversized
        assert refused["class_bytes"] == 16 * 1024 * 1024
        assert refused["measured_bytes"] > refused["class_bytes"]
        assert "above its resource class small (16 MiB)" in described["last_error"]
        assert as_small.get("/ready").status_code == 200
        assert as_small.post(f"/models/{big}/predict", RECORD).status_code == 200
        assert metric(as_small, "inference_model_reloads_total", model=small, result="refused") == 0
        memory = metric(as_small, "inference_model_memory_bytes", model=big)
        assert 0 < memory < 16 * 1024 * 1024  # the served version's cost
    finally:
        as_small.stop()

    (tmp_path / "medium-class").mkdir()
    as_medium = start_service(
        {
            **settings,
            "MODELS_FILE": str(
                write_models_file(
                    tmp_path / "medium-class",
                    {"name": big, "alias": "staging", "resources": "medium"},
                )
            ),
        },
        tmp_path,
    )
    try:
        described = info(as_medium, big)
        assert described["version"] == oversized
        assert 16 * 1024 * 1024 < described["resources"]["measured_bytes"] < 64 * 1024 * 1024
        assert described["resources"]["refused"] is None
        # One model declared: the one-model routes answer as before.
        assert as_medium.post("/predict", RECORD).json()["model"]["version"] == oversized
    finally:
        as_medium.stop()
