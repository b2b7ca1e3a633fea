"""A real service for the metrics contract test: one prediction, then a scrape."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.monitoring.metrics_contract import ALIAS, MODEL_NAME
from tests.support.models import iris_logistic, log_and_register
from tests.support.servers import start_service
from training.registry_server import RegistryServer

RELOAD_INTERVAL_SECONDS = 1


@pytest.fixture(scope="session")
def scraped_metrics(
    registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """/metrics of a real service after one prediction and at least one reload tick."""
    log_and_register(registry.url, MODEL_NAME, *iris_logistic(), alias=ALIAS)
    service = start_service(
        {
            "MODEL_URI": f"models:/{MODEL_NAME}@{ALIAS}",
            "MLFLOW_TRACKING_URI": registry.url,
            "RELOAD_INTERVAL_SECONDS": str(RELOAD_INTERVAL_SECONDS),
            "TENANT": "tenant-a",
            "LOG_LEVEL": "WARNING",
        },
        tmp_path_factory.mktemp("inference"),
    )
    try:
        example = service.get("/model/info").json()["input_example"]
        response = service.post("/predict", example[:1])
        assert response.status_code == 200, response.text
        # Let the reloader poll the registry at least once after the first load.
        time.sleep(3 * RELOAD_INTERVAL_SECONDS)
        scrape = service.get("/metrics")
        assert scrape.status_code == 200, scrape.text
        yield scrape.text
    finally:
        service.stop()
