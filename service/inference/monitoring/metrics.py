"""Prometheus metrics of the service. Names are a contract: the dashboard and the alert
rules query them, and tests/monitoring checks every name they use is exported here.

Every series about a model carries its registered name as the `model` label, so one service
serving several models keeps them apart; `model` is "" on a request that names no served
model (a probe, /metrics, a path naming an unknown model). `ModelMetrics` holds one model's
series, bound once: labels() hashes and locks on every call, so the hot path never calls it.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

from inference.models.load_policy import INTEGRITY_REASONS

# Request latency spans sub-millisecond cache hits to slow model calls under load.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_ROW_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
# inference_model_reloads results: a version served, a version that failed (download, load,
# self-check, signature), a version that loaded but measured above its resource class.
RELOAD_RESULTS = ("success", "failure", "refused")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        r = self.registry
        self.requests = Counter(
            "inference_http_requests",
            "HTTP requests handled, by route template, model, method and status code.",
            ["route", "model", "method", "status"],
            registry=r,
        )
        self.request_duration = Histogram(
            "inference_http_request_duration_seconds",
            "Time from request start to response end, by route template, model and method.",
            ["route", "model", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.prediction_duration = Histogram(
            "inference_model_prediction_duration_seconds",
            "Time of one model call (a whole batch when batching is on).",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.request_rows = Histogram(
            "inference_request_rows",
            "Rows per prediction request.",
            ["model"],
            buckets=_ROW_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "inference_predictions",
            "Predictions returned, by model and predicted class.",
            ["model", "class"],
            registry=r,
        )
        self.model_info = Gauge(
            "inference_model_info",
            "1 for the model version being served, and the runtime serving it (onnx, sklearn).",
            ["model", "version", "alias", "runtime"],
            registry=r,
        )
        self.reloads = Counter(
            "inference_model_reloads",
            "Attempts to load a new model version, by model and result (success, failure, "
            "refused: above its resource class).",
            ["model", "result"],
            registry=r,
        )
        self.last_load = Gauge(
            "inference_model_last_load_timestamp_seconds",
            "Unix time of the last successful load of the model.",
            ["model"],
            registry=r,
        )
        self.memory = Gauge(
            "inference_model_memory_bytes",
            "What loading the served version added to the process's resident memory.",
            ["model"],
            registry=r,
        )
        self.integrity_failures = Counter(
            "inference_model_integrity_failures",
            "Versions refused before loading because their files are not what was recorded at "
            "registration, by model and reason (mismatch: a file's sha256 differs or the file "
            "is not listed; unrecorded: no digests where the tenant requires them; malformed: "
            "the recorded digests cannot be read).",
            ["model", "reason"],
            registry=r,
        )
        self.batch_rows = Histogram(
            "inference_batch_rows",
            "Rows per batched model call.",
            ["model"],
            buckets=_ROW_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "inference_batch_queue_wait_seconds",
            "Time a request waited in the batch queue before its model call started.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.rejected = Counter(
            "inference_requests_rejected",
            "Requests refused before reaching the model, by model and reason.",
            ["model", "reason"],
            registry=r,
        )
        self._served: dict[str, tuple[str, str, str, str]] = {}

    def for_model(self, name: str) -> ModelMetrics:
        return ModelMetrics(self, name)

    def served(self, model: str, version: str, alias: str | None, runtime: str) -> None:
        """Point the model's inference_model_info at the version now being served, and only
        at it; other models' series stay."""
        labels = (model, version, alias or "", runtime)
        previous = self._served.get(model)
        if previous is not None and previous != labels:
            self.model_info.remove(*previous)
        self.model_info.labels(*labels).set(1)
        self._served[model] = labels


class ModelMetrics:
    """The series of one served model, children bound once."""

    def __init__(self, metrics: Metrics, name: str) -> None:
        self.name = name
        self.metrics = metrics
        self.prediction_duration = metrics.prediction_duration.labels(name)
        self.request_rows = metrics.request_rows.labels(name)
        self.batch_rows = metrics.batch_rows.labels(name)
        self.queue_wait = metrics.queue_wait.labels(name)
        self.queue_full = metrics.rejected.labels(name, "queue_full")
        self.last_load = metrics.last_load.labels(name)
        self.memory = metrics.memory.labels(name)
        # Start these at zero so rate() and absent() behave from the first scrape.
        self.reloads = {result: metrics.reloads.labels(name, result) for result in RELOAD_RESULTS}
        self.integrity_failures = {
            reason: metrics.integrity_failures.labels(name, reason) for reason in INTEGRITY_REASONS
        }
        self._classes: dict[Any, Any] = {}

    def predicted(self, label: Any, count: int) -> None:
        counter = self._classes.get(label)
        if counter is None:
            counter = self._classes[label] = self.metrics.predictions.labels(self.name, str(label))
        counter.inc(count)

    def served(self, version: str, alias: str | None, runtime: str) -> None:
        self.metrics.served(self.name, version, alias, runtime)
