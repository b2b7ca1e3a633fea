"""Model files verified before loading, against a real MLflow server (sqlite) whose artifacts
live in S3 (moto): a file changed in the artifact store after registration, or in the pod's
cache, is refused with the file and both digests named, counted, and the served version
stays; a version without digests is refused where the tenant requires them."""

from __future__ import annotations

import hashlib
import pickle
import time
from pathlib import Path
from typing import Any

import pytest

from inference.contracts import model_files
from tests.support.models import (
    IRIS_COLUMNS,
    iris_forest,
    iris_hanging,
    iris_logistic,
    log_and_register,
    s3_key_of_version_file,
    set_alias,
)
from tests.support.servers import Service, s3_client, start_service, write_models_file
from training.local_platform.registry_server import RegistryServer

pytestmark = pytest.mark.integration

ROW = [6.3, 3.3, 6.0, 2.5]
RECORD = dict(zip(IRIS_COLUMNS, ROW, strict=True))


def integrity_failures(service: Service, reason: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(service.get("/metrics").text):
        for sample in family.samples:
            if (
                sample.name == "inference_model_integrity_failures_total"
                and sample.labels.get("reason") == reason
            ):
                return sample.value
    return 0.0


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def recorded(tracking_uri: str, name: str, version: str) -> dict[str, str]:
    import mlflow

    tags = mlflow.MlflowClient(tracking_uri).get_model_version(name, version).tags
    digests = model_files.from_tags(tags)
    assert digests is not None, "log_and_register records digests as training does"
    return digests


def planted_pickle() -> bytes:
    """A valid pickle of a working model with the same signature: only the digest tells."""
    forest, _ = iris_forest()
    return pickle.dumps(forest)


def answers_like(answer: dict[str, Any], estimator: Any) -> bool:
    """The service's probabilities for ROW are `estimator`'s."""
    import pandas as pd

    want = estimator.predict_proba(pd.DataFrame([ROW], columns=IRIS_COLUMNS))[0]
    got = answer["probabilities"][0]
    return all(abs(a - b) < 1e-6 for a, b in zip(got, want, strict=True))


def service_log(tmp_path: Path) -> str:
    return "\n".join(p.read_text() for p in tmp_path.glob("svc-*.log"))


def test_a_file_changed_in_the_artifact_store_is_refused_and_the_served_version_stays(
    registry: RegistryServer, s3_env: dict[str, str], tmp_path: Path
) -> None:
    estimator, features = iris_logistic()
    good = log_and_register(registry.url, "svc-tamper", estimator, features, alias="staging")
    service = start_service(
        {
            "MODEL_URI": "models:/svc-tamper@staging",
            "MLFLOW_TRACKING_URI": registry.url,
            "RELOAD_INTERVAL_SECONDS": "1",
        },
        tmp_path,
    )
    try:
        tampered = log_and_register(registry.url, "svc-tamper", estimator, features)
        bucket, key = s3_key_of_version_file(registry.url, "svc-tamper", tampered, "model.pkl")
        s3 = s3_client(s3_env)
        s3.head_object(Bucket=bucket, Key=key)  # the file we replace really is the model
        planted = planted_pickle()
        s3.put_object(Bucket=bucket, Key=key, Body=planted)
        set_alias(registry.url, "svc-tamper", "staging", tampered)
        wait_for(
            lambda: integrity_failures(service, "mismatch") > 0, 60, "the change to be refused"
        )
        assert service.get("/ready").json()["version"] == good
        answer = service.post("/predict", RECORD).json()
        assert answer["model"]["version"] == good
        assert answers_like(answer, estimator)
        error = service.get("/model/info").json()["last_error"]
        expected = recorded(registry.url, "svc-tamper", tampered)["model.pkl"]
        found = hashlib.sha256(planted).hexdigest()
        assert f"svc-tamper v{tampered}: downloaded file model.pkl" in error
        assert f"recorded sha256 {expected}, found {found}" in error
    finally:
        service.stop()


def test_a_changed_cached_copy_is_refused_then_downloaded_again(
    registry: RegistryServer, tmp_path: Path
) -> None:
    """Rolling back to a version the cache keeps: its cached file was changed on the pod's
    disk. The copy is refused and dropped, never loaded; the next attempt downloads the
    version again from the store, checks it, and serves the registered model."""
    estimator, features = iris_logistic()
    first = log_and_register(registry.url, "svc-cached", estimator, features, alias="staging")
    service = start_service(
        {
            "MODEL_URI": "models:/svc-cached@staging",
            "MLFLOW_TRACKING_URI": registry.url,
            "RELOAD_INTERVAL_SECONDS": "1",
        },
        tmp_path,
    )
    try:
        second = log_and_register(registry.url, "svc-cached", estimator, features)
        set_alias(registry.url, "svc-cached", "staging", second)
        wait_for(
            lambda: service.get("/ready").json().get("version") == second, 60, "the new version"
        )
        (cache,) = tmp_path.glob("cache-*")
        cached = cache / "svc-cached" / first / "model.pkl"
        assert cached.is_file()  # the version replaced stays cached for a rollback
        planted = planted_pickle()
        cached.write_bytes(planted)
        set_alias(registry.url, "svc-cached", "staging", first)
        wait_for(lambda: integrity_failures(service, "mismatch") > 0, 60, "the cached copy refused")
        wait_for(
            lambda: service.get("/ready").json().get("version") == first,
            60,
            "the version downloaded again",
        )
        answer = service.post("/predict", RECORD).json()
        assert answer["model"]["version"] == first
        # The registered model answers, not the planted one.
        assert answers_like(answer, estimator)
        assert not answers_like(answer, iris_forest()[0])
        assert cached.read_bytes() != planted
        expected = recorded(registry.url, "svc-cached", first)["model.pkl"]
        log = service_log(tmp_path)
        assert (
            f"svc-cached v{first}: cached file model.pkl: recorded sha256 {expected}, "
            f"found {hashlib.sha256(planted).hexdigest()}"
        ) in log
        assert f"still serving v{second}" in log
    finally:
        service.stop()


def test_a_version_without_digests_is_refused_where_the_tenant_requires_them(
    registry: RegistryServer, tmp_path: Path
) -> None:
    estimator, features = iris_logistic()
    good = log_and_register(registry.url, "tenant-t-strict", estimator, features, alias="staging")
    bare = log_and_register(registry.url, "tenant-t-strict", estimator, features, digests=False)
    models = write_models_file(
        tmp_path / "models",
        {"name": "tenant-t-strict", "alias": "staging"},
        requireFileDigests=True,
    )
    service = start_service(
        {
            "MODELS_FILE": str(models),
            "TENANT": "tenant-t",
            "MLFLOW_TRACKING_URI": registry.url,
            "RELOAD_INTERVAL_SECONDS": "1",
        },
        tmp_path,
    )
    try:
        set_alias(registry.url, "tenant-t-strict", "staging", bare)
        wait_for(
            lambda: integrity_failures(service, "unrecorded") > 0, 60, "the bare version refused"
        )
        assert service.get("/ready").json()["version"] == good
        error = service.get("/model/info").json()["last_error"]
        assert f"tenant-t-strict v{bare} records no file digests" in error
        assert "requireFileDigests" in error
    finally:
        service.stop()


def test_a_pickle_free_tenant_refuses_a_pickled_version_its_alias_points_at(
    registry: RegistryServer, tmp_path: Path
) -> None:
    estimator, features = iris_logistic()
    onnx = log_and_register(
        registry.url, "tenant-p-iris", estimator, features, alias="staging", onnx=True
    )
    pickled = log_and_register(registry.url, "tenant-p-iris", estimator, features)
    models = write_models_file(
        tmp_path / "models", {"name": "tenant-p-iris", "alias": "staging"}, pickleFree=True
    )
    service = start_service(
        {
            "MODELS_FILE": str(models),
            "TENANT": "tenant-p",
            "MLFLOW_TRACKING_URI": registry.url,
            "RELOAD_INTERVAL_SECONDS": "1",
        },
        tmp_path,
    )
    try:
        assert service.get("/model/info").json()["runtime"] == "onnx"
        set_alias(registry.url, "tenant-p-iris", "staging", pickled)
        wait_for(
            lambda: "pickle-free" in (service.get("/model/info").json()["last_error"] or ""),
            60,
            "the pickled version refused",
        )
        info = service.get("/model/info").json()
        assert info["version"] == onnx
        assert f"tenant-p-iris v{pickled}" in info["last_error"]
        assert "never unpickle; this version has none" in info["last_error"]
        (cache,) = tmp_path.glob("cache-*")
        # Refused from its MLmodel: the pickle was not even downloaded.
        assert not list((cache / "tenant-p-iris").rglob("model.pkl"))
    finally:
        service.stop()


def test_a_version_whose_self_check_hangs_is_refused_and_the_pod_keeps_serving(
    registry: RegistryServer, tmp_path: Path
) -> None:
    estimator, features = iris_logistic()
    good = log_and_register(registry.url, "svc-hang", estimator, features, alias="staging")
    hanging, hanging_features = iris_hanging()
    stuck = log_and_register(registry.url, "svc-hang", hanging, hanging_features)
    service = start_service(
        {
            "MODEL_URI": "models:/svc-hang@staging",
            "MLFLOW_TRACKING_URI": registry.url,
            "RELOAD_INTERVAL_SECONDS": "1",
            "MODEL_CHECK_TIMEOUT_SECONDS": "2",
            "HANG_SECONDS": "20",  # what the hanging version's pipeline sleeps on each call
        },
        tmp_path,
    )
    try:
        set_alias(registry.url, "svc-hang", "staging", stuck)
        wait_for(
            lambda: (
                "MODEL_CHECK_TIMEOUT_SECONDS=2"
                in (service.get("/model/info").json()["last_error"] or "")
            ),
            60,
            "the hanging version refused",
        )
        info = service.get("/model/info").json()
        assert info["version"] == good
        assert (
            f"cannot load svc-hang v{stuck}: loading it and its self-check did not finish"
            in (info["last_error"])
        )
        started = time.monotonic()
        answer = service.post("/predict", RECORD).json()
        assert answer["model"]["version"] == good
        assert time.monotonic() - started < 1  # the hung load holds nothing requests need
        assert service.get("/health").status_code == 200
    finally:
        service.stop()


def test_through_the_proxy_a_download_stops_at_the_size_limit(
    registry: RegistryServer, tmp_path: Path
) -> None:
    from inference.models.load_policy import LimitError, LoadPolicy
    from inference.models.loader import load_version
    from inference.models.registry import Registry

    estimator, features = iris_logistic()
    version = log_and_register(registry.url, "svc-big", estimator, features)
    files = recorded(registry.url, "svc-big", version)
    assert "model.pkl" in files
    with pytest.raises(LimitError, match=rf"svc-big v{version} is .* above MODEL_MAX_MIB"):
        load_version(
            Registry(registry.url),
            "svc-big",
            version,
            None,
            None,
            tmp_path,
            policy=LoadPolicy(max_bytes=256),  # less than MLmodel alone
        )
    assert not list(tmp_path.rglob("MLmodel"))  # nothing kept, nothing loaded
    served = load_version(Registry(registry.url), "svc-big", version, None, None, tmp_path)
    assert served.version == version
