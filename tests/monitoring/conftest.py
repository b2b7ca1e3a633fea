"""A real service for the metrics contract test: one prediction, then a scrape. Its version
carries a drift reference, and a candidate runs in shadow beside it, so the drift and rollout
metrics are in the scrape too."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.monitoring.metrics_contract import ALIAS, MODEL_NAME
from tests.support.models import iris_logistic, iris_reference, log_and_register
from tests.support.rollouts import policy_document, put_candidate, write_policy
from tests.support.servers import start_service
from training.local_platform.registry_server import RegistryServer

RELOAD_INTERVAL_SECONDS = 1


@pytest.fixture(scope="session")
def scraped_metrics(
    registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """/metrics of a real service after one prediction and at least one reload tick."""
    estimator, features = iris_logistic()
    reference = iris_reference(estimator, features)
    log_and_register(
        registry.url, MODEL_NAME, estimator, features, alias=ALIAS, drift_reference=reference
    )
    candidate = log_and_register(registry.url, MODEL_NAME, *iris_logistic())
    folder = tmp_path_factory.mktemp("inference")
    policy = policy_document(ALIAS)
    put_candidate(registry.url, MODEL_NAME, candidate, policy, "tenant-a")
    service = start_service(
        {
            "MODEL_URI": f"models:/{MODEL_NAME}@{ALIAS}",
            "MLFLOW_TRACKING_URI": registry.url,
            "RELOAD_INTERVAL_SECONDS": str(RELOAD_INTERVAL_SECONDS),
            "TENANT": "tenant-a",
            "LOG_LEVEL": "WARNING",
            "ROLLOUT_POLICY_FILE": str(write_policy(folder / "rollout.yaml", policy)),
        },
        folder,
    )
    try:
        deadline = time.monotonic() + 30
        while service.get("/model/info").json()["rollout"]["candidate_version"] != candidate:
            assert time.monotonic() < deadline, "the candidate never loaded"
            time.sleep(0.2)
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
