"""Servers for the metrics contract test: started once per session, always stopped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .local_servers import (
    register_iris_model,
    start_inference_service,
    start_mlflow_server,
    stop,
)

MODEL_NAME = "tenant-a-iris"
ALIAS = "staging"
RELOAD_INTERVAL_SECONDS = 1


def _log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@pytest.fixture(scope="session")
def mlflow_tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("mlflow")
    log = workdir / "server.log"
    try:
        uri, process = start_mlflow_server(workdir, log)
    except (RuntimeError, TimeoutError) as exc:
        pytest.fail(f"{exc}\n{_log_tail(log)}")
    try:
        register_iris_model(uri, MODEL_NAME, ALIAS)
        yield uri
    finally:
        stop(process)


@pytest.fixture(scope="session")
def scraped_metrics(
    mlflow_tracking_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """/metrics of a real service after one prediction and at least one reload tick."""
    workdir = tmp_path_factory.mktemp("inference")
    log = workdir / "service.log"
    settings = {
        "MODEL_URI": f"models:/{MODEL_NAME}@{ALIAS}",
        "MLFLOW_TRACKING_URI": mlflow_tracking_uri,
        "MODEL_CACHE_DIR": str(workdir / "cache"),
        "RELOAD_INTERVAL_SECONDS": str(RELOAD_INTERVAL_SECONDS),
        "TENANT": "tenant-a",
        "LOG_LEVEL": "WARNING",
    }
    try:
        url, process = start_inference_service(settings, log)
    except (RuntimeError, TimeoutError) as exc:
        pytest.fail(f"{exc}\n{_log_tail(log)}")
    try:
        response = httpx.post(
            f"{url}/predict",
            json=[
                {
                    "sepal length (cm)": 5.1,
                    "sepal width (cm)": 3.5,
                    "petal length (cm)": 1.4,
                    "petal width (cm)": 0.2,
                }
            ],
            timeout=30,
        )
        assert response.status_code == 200, response.text
        # Let the reloader poll the registry at least once after the first load.
        time.sleep(3 * RELOAD_INTERVAL_SECONDS)
        scrape = httpx.get(f"{url}/metrics", timeout=30)
        assert scrape.status_code == 200, scrape.text
        yield scrape.text
    finally:
        stop(process)
