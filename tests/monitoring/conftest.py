"""A real service for the metrics contract test: one prediction per model, then a scrape. It
serves two models of one tenant from a models.yaml, as the cluster mounts it; the first
model's version carries a drift reference, and a candidate runs in shadow beside it, so the
drift and rollout metrics are in the scrape too."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.monitoring.metrics_contract import ALIAS, MODEL_NAME, SECOND_MODEL, TENANT
from tests.support.models import iris_forest, iris_logistic, iris_reference, log_and_register
from tests.support.rollouts import policy_document, put_candidate, write_policy
from tests.support.servers import start_service, write_models_file
from training.local_platform.registry_server import RegistryServer

RELOAD_INTERVAL_SECONDS = 1


@pytest.fixture(scope="session")
def scraped_metrics(
    registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """/metrics of a real service after one prediction per model and at least one reload
    tick."""
    estimator, features = iris_logistic()
    reference = iris_reference(estimator, features)
    log_and_register(
        registry.url, MODEL_NAME, estimator, features, alias=ALIAS, drift_reference=reference
    )
    log_and_register(registry.url, SECOND_MODEL, *iris_forest(), alias=ALIAS)
    candidate = log_and_register(registry.url, MODEL_NAME, *iris_logistic())
    folder = tmp_path_factory.mktemp("inference")
    policy = policy_document(ALIAS)
    put_candidate(registry.url, MODEL_NAME, candidate, policy, TENANT)
    write_policy(folder / "rollout.yaml", policy)
    models_file = write_models_file(
        folder,
        {"name": MODEL_NAME, "alias": ALIAS, "rollout": "rollout.yaml"},
        {"name": SECOND_MODEL, "alias": ALIAS},
    )
    service = start_service(
        {
            "MODELS_FILE": str(models_file),
            "ROLLOUT_POLICY_DIR": str(folder),
            "MLFLOW_TRACKING_URI": registry.url,
            "RELOAD_INTERVAL_SECONDS": str(RELOAD_INTERVAL_SECONDS),
            "TENANT": TENANT,
            "LOG_LEVEL": "WARNING",
        },
        folder,
    )
    try:
        deadline = time.monotonic() + 30
        info = f"/models/{MODEL_NAME}/info"
        while service.get(info).json()["rollout"]["candidate_version"] != candidate:
            assert time.monotonic() < deadline, "the candidate never loaded"
            time.sleep(0.2)
        for model in (MODEL_NAME, SECOND_MODEL):
            example = service.get(f"/models/{model}/info").json()["input_example"]
            response = service.post(f"/models/{model}/predict", example[:1])
            assert response.status_code == 200, response.text
        # Let the reloaders poll the registry at least once after the first load.
        time.sleep(3 * RELOAD_INTERVAL_SECONDS)
        scrape = service.get("/metrics")
        assert scrape.status_code == 200, scrape.text
        yield scrape.text
    finally:
        service.stop()
