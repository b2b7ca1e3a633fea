"""Prometheus metrics of the service. Names are a contract: the dashboard and the alert
rules query them, and tests/monitoring checks every name they use is exported here."""

from __future__ import annotations

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

# Request latency spans sub-millisecond cache hits to slow model calls under load.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_ROW_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        r = self.registry
        self.requests = Counter(
            "inference_http_requests",
            "HTTP requests handled, by route template, method and status code.",
            ["route", "method", "status"],
            registry=r,
        )
        self.request_duration = Histogram(
            "inference_http_request_duration_seconds",
            "Time from request start to response end, by route template and method.",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.prediction_duration = Histogram(
            "inference_model_prediction_duration_seconds",
            "Time of one model call (a whole batch when batching is on).",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.request_rows = Histogram(
            "inference_request_rows",
            "Rows per prediction request.",
            buckets=_ROW_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "inference_predictions",
            "Predictions returned, by predicted class.",
            ["class"],
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
            "Attempts to load a new model version, by result.",
            ["result"],
            registry=r,
        )
        self.last_load = Gauge(
            "inference_model_last_load_timestamp_seconds",
            "Unix time of the last successful model load.",
            registry=r,
        )
        self.batch_rows = Histogram(
            "inference_batch_rows",
            "Rows per batched model call.",
            buckets=_ROW_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "inference_batch_queue_wait_seconds",
            "Time a request waited in the batch queue before its model call started.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.rejected = Counter(
            "inference_requests_rejected",
            "Requests refused before reaching the model, by reason.",
            ["reason"],
            registry=r,
        )
        # Start these at zero so rate() and absent() behave from the first scrape.
        for result in ("success", "failure"):
            self.reloads.labels(result=result)
        self.rejected.labels(reason="queue_full")

    def served(self, model: str, version: str, alias: str | None, runtime: str) -> None:
        """Point inference_model_info at the version now being served, and only at it."""
        self.model_info.clear()
        self.model_info.labels(
            model=model, version=version, alias=alias or "", runtime=runtime
        ).set(1)
