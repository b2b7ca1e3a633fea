"""The service against a real MLflow server (sqlite) whose artifacts live in S3 (moto)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.models import (
    IRIS_COLUMNS,
    iris_forest,
    iris_frame,
    iris_logistic,
    iris_two_features,
    log_and_register,
    set_alias,
    text_pipeline,
)
from tests.support.servers import Service, s3_client, start_service
from training.local_platform.registry_server import RegistryServer

pytestmark = pytest.mark.integration

ROW = [5.1, 3.5, 1.4, 0.2]
RECORD = dict(zip(IRIS_COLUMNS, ROW, strict=True))


def metric(service: Service, name: str, **labels: str) -> float:
    """Read one sample from the service's /metrics (0 if absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(service.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def served_version(service: Service) -> str | None:
    response = service.get("/ready")
    return response.json().get("version") if response.status_code == 200 else None


@pytest.fixture(scope="module")
def iris_service(
    registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Service, str]]:
    estimator, features = iris_logistic()
    version = log_and_register(registry.url, "svc-iris", estimator, features, alias="staging")
    service = start_service(
        {
            "MODEL_URI": "models:/svc-iris@staging",
            "MLFLOW_TRACKING_URI": registry.url,
            "RELOAD_INTERVAL_SECONDS": "1",
            "TENANT": "tenant-test",
        },
        tmp_path_factory.mktemp("svc-iris"),
    )
    yield service, version
    service.stop()


def test_not_ready_until_the_alias_exists_then_ready(
    registry: RegistryServer, tmp_path: Path
) -> None:
    service = start_service(
        {
            "MODEL_URI": "models:/svc-late@staging",
            "MLFLOW_TRACKING_URI": registry.url,
            "RELOAD_INTERVAL_SECONDS": "1",
        },
        tmp_path,
        wait_ready=False,
    )
    try:
        assert service.get("/health").status_code == 200
        wait_for(lambda: service.get("/ready").json()["last_error"], 60, "a failed first load")
        not_ready = service.get("/ready")
        assert not_ready.status_code == 503
        assert "svc-late" in not_ready.json()["last_error"]
        refused = service.post("/predict", RECORD)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert service.get("/model/info").status_code == 503

        estimator, features = iris_logistic()
        version = log_and_register(registry.url, "svc-late", estimator, features, alias="staging")
        wait_for(lambda: served_version(service) == version, 90, "ready after registration")
        assert service.post("/predict", RECORD).status_code == 200
        assert service.child.alive()
    finally:
        service.stop()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/predict", RECORD),
        ("/predict", [RECORD, RECORD]),
        ("/predict", ROW),
        ("/predict", [ROW, ROW]),
        ("/invocations", {"dataframe_split": {"columns": IRIS_COLUMNS, "data": [ROW]}}),
        ("/invocations", {"dataframe_records": [RECORD]}),
        ("/invocations", {"instances": [RECORD]}),
        ("/invocations", {"inputs": [ROW]}),
    ],
)
def test_payload_styles_give_the_models_own_predictions(
    iris_service: tuple[Service, str], path: str, body: Any
) -> None:
    service, version = iris_service
    estimator, _ = iris_logistic()
    features, _ = iris_frame()
    expected = estimator.predict(features.iloc[[0]]).tolist()[0]
    response = service.post(path, body)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert set(payload["predictions"]) == {expected}
    if path == "/predict":
        assert payload["model"] == {"name": "svc-iris", "version": version, "alias": "staging"}
        assert payload["classes"] == [0, 1, 2]
        assert abs(sum(payload["probabilities"][0]) - 1) < 1e-9


def test_model_info_openapi_and_metrics(iris_service: tuple[Service, str]) -> None:
    service, version = iris_service
    info = service.get("/model/info").json()
    assert info["tenant"] == "tenant-test"
    assert [c["name"] for c in info["inputs"]] == IRIS_COLUMNS
    assert info["input_example"][0] == ROW

    schema = service.get("/openapi.json").json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    record = body["schema"]["oneOf"][0]
    assert record["required"] == IRIS_COLUMNS
    assert record["properties"]["petal_width"]["type"] == "number"
    assert service.get("/docs").status_code == 200

    service.post("/predict", RECORD)
    assert metric(service, "inference_model_info", model="svc-iris", version=version) == 1
    assert metric(service, "inference_http_requests_total", route="/predict", status="200") >= 1
    assert metric(service, "inference_model_reloads_total", result="success") >= 1


def test_text_pipeline_gets_a_single_text_field(registry: RegistryServer, tmp_path: Path) -> None:
    estimator, texts = text_pipeline()
    log_and_register(registry.url, "svc-reviews", estimator, texts, alias="staging")
    service = start_service(
        {"MODEL_URI": "models:/svc-reviews@staging", "MLFLOW_TRACKING_URI": registry.url},
        tmp_path,
    )
    try:
        answer = service.post("/predict", [{"review": "great, love it"}, {"review": "awful"}])
        assert answer.json()["predictions"] == ["positive", "negative"]
        wrong = service.post("/predict", {"review": 5})
        assert wrong.status_code == 422
        assert wrong.json()["detail"][0] == {
            "field": "body[0].review",
            "message": "got number",
            "expected": "string",
        }
    finally:
        service.stop()


def test_alias_move_is_served_within_the_interval_with_zero_failed_requests(
    registry: RegistryServer, tmp_path: Path
) -> None:
    estimator, features = iris_logistic()
    first = log_and_register(registry.url, "svc-swap", estimator, features, alias="staging")
    service = start_service(
        {
            "MODEL_URI": "models:/svc-swap@staging",
            "MLFLOW_TRACKING_URI": registry.url,
            "RELOAD_INTERVAL_SECONDS": "1",
        },
        tmp_path,
    )
    seen: list[tuple[int, str]] = []
    failures: list[str] = []
    stop = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                try:
                    response = http.post(f"{service.url}/predict", json=[ROW] * 5)
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                else:
                    seen.append((n, response.json()["model"]["version"]))

    clients = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    try:
        for thread in clients:
            thread.start()
        forest, _ = iris_forest()
        second = log_and_register(registry.url, "svc-swap", forest, features)
        moved_at = time.monotonic()
        set_alias(registry.url, "svc-swap", "staging", second)
        wait_for(lambda: served_version(service) == second, 60, "the new version")
        took = time.monotonic() - moved_at
        time.sleep(1.0)  # keep the clients running across the switch
    finally:
        stop.set()
        for thread in clients:
            thread.join()
        service.stop()
    assert failures == []
    assert {v for _, v in seen} == {first, second}
    for n in range(4):  # each client switches once, forward: no flapping back
        versions = [v for c, v in seen if c == n]
        switch = versions.index(second)
        assert set(versions[:switch]) == {first}
        assert set(versions[switch:]) == {second}
    # Poll interval (1 s +- 20%) + download and load; generous for a loaded CI machine.
    assert took < 60


def s3_key_of_model_file(tracking_uri: str, name: str, version: str) -> tuple[str, str]:
    """Bucket and key of the pickled estimator of a registered version (proxied artifacts)."""
    import mlflow

    location = mlflow.MlflowClient(tracking_uri).get_model_version_download_uri(name, version)
    # Proxied locations look like mlflow-artifacts:/<experiment>/models/m-<id>/artifacts
    path = location.split(":", 1)[1].lstrip("/")
    return "mlflow", f"artifacts/{path}/model.pkl"


def test_broken_versions_never_replace_the_served_one(
    registry: RegistryServer, s3_env: dict[str, str], tmp_path: Path
) -> None:
    estimator, features = iris_logistic()
    good = log_and_register(registry.url, "svc-guard", estimator, features, alias="staging")
    service = start_service(
        {
            "MODEL_URI": "models:/svc-guard@staging",
            "MLFLOW_TRACKING_URI": registry.url,
            "RELOAD_INTERVAL_SECONDS": "1",
        },
        tmp_path,
    )
    try:
        # 1. A corrupt artifact: the pickle in S3 overwritten with junk.
        # Without recorded digests: the load itself must fail (test_integrity_integration.py
        # covers a version whose digests catch the change first).
        corrupt = log_and_register(registry.url, "svc-guard", estimator, features, digests=False)
        bucket, key = s3_key_of_model_file(registry.url, "svc-guard", corrupt)
        s3 = s3_client(s3_env)
        s3.head_object(Bucket=bucket, Key=key)  # the file we corrupt really is the model
        s3.put_object(Bucket=bucket, Key=key, Body=b"not a pickle")
        failures_before = metric(service, "inference_model_reloads_total", result="failure")
        set_alias(registry.url, "svc-guard", "staging", corrupt)
        wait_for(
            lambda: (
                metric(service, "inference_model_reloads_total", result="failure") > failures_before
            ),
            60,
            "the corrupt version to be refused",
        )
        assert served_version(service) == good
        assert service.post("/predict", RECORD).json()["model"]["version"] == good
        assert f"v{corrupt}" in service.get("/model/info").json()["last_error"]

        # 2. A different signature under the same name.
        narrow, narrow_features = iris_two_features()
        changed = log_and_register(registry.url, "svc-guard", narrow, narrow_features)
        set_alias(registry.url, "svc-guard", "staging", changed)
        # The service keeps retrying the corrupt version until it sees the alias move, so a
        # new failure alone may still be the old one: wait for the refusal of this version.
        wait_for(
            lambda: f"v{changed}" in (service.get("/model/info").json()["last_error"] or ""),
            60,
            "the signature change to be refused",
        )
        assert served_version(service) == good
        last_error = service.get("/model/info").json()["last_error"]
        assert "signature" in last_error
        assert "-sepal_length" in last_error
        assert metric(service, "inference_model_info", version=good) == 1
        assert service.get("/ready").status_code == 200
    finally:
        service.stop()


def test_artifacts_read_straight_from_s3(
    registry: RegistryServer,
    s3_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An experiment whose artifact root is s3:// is read with MLFLOW_S3_ENDPOINT_URL, not the
    server's proxy: the MinIO-direct mode."""
    import mlflow

    for name, value in s3_env.items():
        monkeypatch.setenv(name, value)
    client = mlflow.MlflowClient(registry.url)
    client.create_experiment("direct-s3", artifact_location="s3://mlflow/direct")
    estimator, features = iris_forest()
    version = log_and_register(
        registry.url, "svc-direct", estimator, features, alias="staging", experiment="direct-s3"
    )
    location = client.get_model_version_download_uri("svc-direct", version)
    assert location.startswith("s3://mlflow/direct/")

    service = start_service(
        {"MODEL_URI": "models:/svc-direct@staging", "MLFLOW_TRACKING_URI": registry.url, **s3_env},
        tmp_path,
    )
    try:
        answer = service.post("/predict", RECORD).json()
        assert answer["model"]["version"] == version
        assert answer["predictions"] == estimator.predict(features.iloc[[0]]).tolist()
    finally:
        service.stop()


def test_through_the_artifact_proxy_only_the_runtime_files_are_fetched(
    registry: RegistryServer, tmp_path: Path
) -> None:
    """Behind the proxy the service downloads over MLflow's REST API, without the fetch
    child, and only what its runtime reads: MLmodel, the input example, the model file."""
    estimator, features = iris_logistic()
    version = log_and_register(registry.url, "svc-lean", estimator, features, alias="staging")
    service = start_service(
        {"MODEL_URI": "models:/svc-lean@staging", "MLFLOW_TRACKING_URI": registry.url},
        tmp_path,
    )
    try:
        assert service.get("/model/info").json()["version"] == version
    finally:
        service.stop()
    (cache,) = tmp_path.glob("cache-*")
    fetched = sorted(p.name for p in (cache / "svc-lean" / version).iterdir())
    assert fetched == ["MLmodel", "input_example.json", "model.pkl"]


def test_pinned_version_is_served_and_not_polled(
    iris_service: tuple[Service, str], registry: RegistryServer, tmp_path: Path
) -> None:
    _, version = iris_service
    service = start_service(
        {"MODEL_URI": f"models:/svc-iris/{version}", "MLFLOW_TRACKING_URI": registry.url},
        tmp_path,
    )
    try:
        answer = service.post("/predict", RECORD).json()
        assert answer["model"] == {"name": "svc-iris", "version": version, "alias": None}
    finally:
        service.stop()
