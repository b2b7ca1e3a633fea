"""Drift end to end: a version trained and registered by `training.lifecycle.train` (its
reference in the model folder), a real service serving it from a real MLflow server, and
Prometheus (Debian's package) scraping the service and evaluating base/monitoring's rules.

Traffic drawn from the training rows records PSI for every feature and raises nothing; the
same rows shifted by one standard deviation raise InferenceFeatureDrift (both tiers, through
pending) and InferencePredictionDrift. The rules' windows and `for:` are divided by
TIME_DIVISOR (local_prometheus' test-only option), so the hour-long window of the cluster takes
15 s here: this proves the wiring and the rules' logic on real scrapes; the exact durations of
the real windows are proven by promtool (drift_test.yaml, test_drift_rules.py)."""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.support.servers import start_service
from training.lifecycle import datasets
from training.lifecycle import registry as training_registry
from training.lifecycle.catalog import TenantModel
from training.lifecycle.train import drift_reference, train
from training.local_platform import prometheus_server as local_prometheus
from training.local_platform.ports import free_port
from training.settings import Settings

from .drift_timing import minutes_to_fire, read_rules, shifted_shares

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs Debian's prometheus"),
]
TIME_DIVISOR = 240  # [1h] -> 15 s, for: 30m -> 7.5 s, for: 15m -> 3.75 s
SCRAPE_INTERVAL = "1s"
ROWS_PER_REQUEST = 10
REQUEST_INTERVAL_SECONDS = 0.05  # 200 rows/s, 3,000 per 15 s window (the version needs 300)
DRIFT_ALERTS = 'ALERTS{alertname=~"InferenceFeatureDrift|InferencePredictionDrift"}'


class Traffic:
    """Sends /predict requests of rows drawn (with replacement) from `rows` until stopped;
    `rows` can be swapped while it runs."""

    def __init__(self, url: str, rows: np.ndarray, columns: list[str]) -> None:
        self.url, self.rows, self.columns = url, rows, columns
        self.rng = np.random.default_rng(0)
        self.sent = self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Traffic:
        self._thread.start()
        return self

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                picked = self.rows[self.rng.integers(0, len(self.rows), ROWS_PER_REQUEST)]
                body = {"dataframe_split": {"columns": self.columns, "data": picked.tolist()}}
                answer = client.post(f"{self.url}/invocations", json=body)
                self.sent += 1
                self.failed += answer.status_code != 200
                self._stop.wait(REQUEST_INTERVAL_SECONDS)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def _alerts(prometheus: local_prometheus.LocalPrometheus) -> set[tuple[str, str, str]]:
    return {
        (a["metric"]["alertname"], a["metric"].get("severity", ""), a["metric"]["alertstate"])
        for a in prometheus.query(DRIFT_ALERTS)
    }


def _by_feature(prometheus: local_prometheus.LocalPrometheus, expr: str) -> dict[str, float]:
    return {s["metric"]["feature"]: float(s["value"][1]) for s in prometheus.query(expr)}


@dataclass(frozen=True)
class Trained:
    tenant: str
    model_uri: str
    tracking_uri: str
    # The reference train() logged (deterministic for the data and seed) and its training rows.
    document: dict[str, Any]
    x_train: Any


@pytest.fixture
def trained(registry, monkeypatch: pytest.MonkeyPatch) -> Trained:
    """A fresh tenant-a-like model (iris, logistic regression) registered by
    training.lifecycle.train."""
    from training.lifecycle import estimators

    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.url)
    for name in ("MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)  # artifacts go through the server's proxy
    settings = replace(Settings.from_env(), tracking_uri=registry.url)
    training_registry.connect(settings)
    entry = TenantModel(f"drift{uuid.uuid4().hex[:8]}", "iris", "logistic_regression")
    result = train(entry, settings, by="drift test")
    data = datasets.split(entry.dataset, settings.split_seed, settings.test_size)
    pipeline = estimators.build(entry.estimator, settings.split_seed)
    pipeline.fit(data.x_train, data.y_train)
    return Trained(
        entry.tenant,
        f"models:/{result.model_name}/{result.version}",
        registry.url,
        drift_reference(pipeline, data, settings),
        data.x_train,
    )


def test_traffic_like_training_is_quiet_and_a_shift_fires_the_drift_alerts(
    trained: Trained, tmp_path: Path
) -> None:
    tenant, document, x_train = trained.tenant, trained.document, trained.x_train
    service = start_service(
        {
            "MODEL_URI": trained.model_uri,
            "MLFLOW_TRACKING_URI": trained.tracking_uri,
            "TENANT": tenant,
            "LOG_LEVEL": "WARNING",
        },
        tmp_path,
    )
    prometheus = None
    traffic = None
    try:
        info = service.get("/model/info").json()["drift"]
        assert info["monitored"] is True, info
        assert [f["name"] for f in info["features"]] == list(x_train.columns)

        prometheus = local_prometheus.start(
            tmp_path / "prometheus",
            free_port(),
            [local_prometheus.ScrapeTarget(tenant, service.url.removeprefix("http://"))],
            scrape_interval=SCRAPE_INTERVAL,
            rule_time_divisor=TIME_DIVISOR,
        )
        prometheus.wait_for_targets(1, timeout=20)
        columns = list(x_train.columns)
        traffic = Traffic(service.url, x_train.to_numpy(), columns).start()

        # Phase 1: rows like training's for a full window and more: PSI recorded, no alert.
        quiet_until = time.monotonic() + 22
        while time.monotonic() < quiet_until:
            assert _alerts(prometheus) == set()
            time.sleep(1)
        psi = _by_feature(prometheus, "tenant_model_version_feature:inference_drift_psi:1h")
        warn = _by_feature(
            prometheus, "tenant_model_version_feature:inference_drift_psi_threshold:warn"
        )
        assert set(psi) == set(columns)
        assert all(psi[f] < warn[f] for f in columns), (psi, warn)
        rows = prometheus.query("tenant_model_version:inference_drift_rows:increase1h")
        assert float(rows[0]["value"][1]) >= document["window_rows"]

        # Phase 2: the same rows, every feature one standard deviation higher.
        traffic.rows = (x_train + x_train.std()).to_numpy()
        shifted_at = time.monotonic()
        seen: dict[tuple[str, str, str], float] = {}
        wanted = {
            ("InferenceFeatureDrift", "critical", "firing"),
            ("InferenceFeatureDrift", "warning", "firing"),
            ("InferencePredictionDrift", "warning", "firing"),
        }
        while not wanted <= seen.keys() and time.monotonic() - shifted_at < 45:
            for alert in _alerts(prometheus):
                seen.setdefault(alert, time.monotonic() - shifted_at)
            time.sleep(0.5)

        assert wanted <= seen.keys(), seen
        assert ("InferenceFeatureDrift", "critical", "pending") in seen
        assert traffic.failed == 0
        # The rules' own timing, scaled: the window must fill with shifted rows first.
        rules = read_rules()
        moved = shifted_shares(document, x_train, 1.0)
        for tier, severity in (("page", "critical"), ("warn", "warning")):
            minutes = minutes_to_fire(document["features"], moved, rules.tiers[tier], 60)
            assert minutes is not None
            expected = minutes * 60 / TIME_DIVISOR
            measured = seen[("InferenceFeatureDrift", severity, "firing")]
            print(f"{severity}: fired {measured:.1f} s after the shift, rules say {expected:.1f} s")
            # Scrape and evaluation every second, and traffic in 10-row steps: a few seconds.
            assert expected - 3 < measured < expected + 8, (severity, measured, expected)
    finally:
        if traffic is not None:
            traffic.stop()
        if prometheus is not None:
            prometheus.stop()
        service.stop()
