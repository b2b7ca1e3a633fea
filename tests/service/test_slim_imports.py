"""The slim image's path, without Docker: `python -m inference` in a process where
scikit-learn, pandas, MLflow and boto3 cannot be imported (tests/support/slim_site), pickle-free
as the slim image runs it (PICKLE_FREE=true), against a real MLflow server that proxies its
S3 artifacts. It serves an ONNX version, refuses a pickled one by name, and never tries to
import any of those modules."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.support.models import IRIS_COLUMNS, iris_logistic, log_and_register, set_alias
from tests.support.servers import start_service
from training.local_platform.registry_server import RegistryServer

pytestmark = pytest.mark.integration

SLIM_SITE = Path(__file__).parents[1] / "support" / "slim_site"
REPO_ROOT = Path(__file__).parents[2]


def test_the_slim_path_serves_onnx_and_refuses_a_pickle_without_importing_them(
    registry: RegistryServer, tmp_path: Path
) -> None:
    estimator, features = iris_logistic()
    onnx = log_and_register(
        registry.url, "svc-slim", estimator, features, alias="staging", onnx=True
    )
    pickled = log_and_register(registry.url, "svc-slim", estimator, features)
    attempts = tmp_path / "blocked-imports.log"
    service = start_service(
        {
            "MODEL_URI": "models:/svc-slim@staging",
            "MLFLOW_TRACKING_URI": registry.url,
            "RELOAD_INTERVAL_SECONDS": "1",
            "PICKLE_FREE": "true",
            "BLOCKED_IMPORTS_LOG": str(attempts),
            "PYTHONPATH": os.pathsep.join(
                [str(SLIM_SITE), str(REPO_ROOT / "service"), str(REPO_ROOT)]
            ),
        },
        tmp_path,
    )
    try:
        record = dict(zip(IRIS_COLUMNS, [5.1, 3.5, 1.4, 0.2], strict=True))
        answer = service.post("/predict", record).json()
        assert answer["model"]["version"] == onnx
        assert service.get("/model/info").json()["runtime"] == "onnx"
        set_alias(registry.url, "svc-slim", "staging", pickled)
        deadline = time.monotonic() + 60
        while "pickle-free" not in (service.get("/model/info").json()["last_error"] or ""):
            assert time.monotonic() < deadline, "the pickled version was not refused"
            time.sleep(0.25)
        info = service.get("/model/info").json()
        assert info["version"] == onnx
        assert f"svc-slim v{pickled}: this tenant is pickle-free" in info["last_error"]
        assert service.post("/predict", record).json()["model"]["version"] == onnx
    finally:
        service.stop()
    assert not attempts.exists() or attempts.read_text() == "", attempts.read_text()
