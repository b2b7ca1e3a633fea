"""Metrics of a rollout, by role (stable, candidate) and version. New names beside the
service's own (metrics.py), so the existing dashboard and alerts are unchanged; the judge
reads these from Prometheus (training/rollout/judge.py)."""

from __future__ import annotations

import math
from collections import Counter as Tally
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from inference.models.model import Prediction, ServedModel
from inference.monitoring.metrics import _LATENCY_BUCKETS

STABLE = "stable"
CANDIDATE = "candidate"
_DIFFERENCE_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)


class RolloutMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.requests = Counter(
            "inference_rollout_requests",
            "Prediction requests during a rollout by the role and version that ran them "
            "(shadow: the candidate's shadow calls), by result.",
            ["role", "version", "result"],
            registry=r,
        )
        self.duration = Histogram(
            "inference_rollout_request_duration_seconds",
            "Time to get one request's prediction from this version during a rollout.",
            ["role", "version"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "inference_rollout_predictions",
            "Predicted rows during a rollout, by role, version and predicted class.",
            ["role", "version", "class"],
            registry=r,
        )
        self.shadow_rows = Counter(
            "inference_shadow_rows",
            "Rows the candidate scored in shadow, by whether its label agrees with stable's.",
            ["version", "result"],
            registry=r,
        )
        self.shadow_difference = Histogram(
            "inference_shadow_probability_difference",
            "Largest absolute difference between candidate and stable class probabilities, "
            "per row compared in shadow.",
            ["version"],
            buckets=_DIFFERENCE_BUCKETS,
            registry=r,
        )
        self.shadow_skipped = Counter(
            "inference_shadow_skipped",
            "Requests the candidate did not see in shadow, by reason (busy: the queue was full; "
            "values: a value the candidate cannot take as it is).",
            ["version", "reason"],
            registry=r,
        )
        self.candidate_info = Gauge(
            "inference_rollout_candidate_info",
            "1 while a candidate version is loaded beside the stable one, with its mode.",
            ["version", "mode"],
            registry=r,
        )
        self.candidate_share = Gauge(
            "inference_rollout_candidate_share_ratio",
            "Share of requests the candidate answers (0 in shadow or without a rollout).",
            registry=r,
        )
        self.candidate_loads = Counter(
            "inference_rollout_candidate_loads",
            "Candidate versions loaded, and failed candidate checks (a load, a refused "
            "signature, an unreachable registry), by result.",
            ["result"],
            registry=r,
        )
        for result in ("success", "failure"):
            self.candidate_loads.labels(result=result)
        # labels() hashes and locks on every call: keep the children of the hot path.
        self._outcomes: dict[tuple[str, str, str], Any] = {}
        self._durations: dict[tuple[str, str], Any] = {}
        self._classes: dict[tuple[str, str, str], Any] = {}

    def began(self, stable: ServedModel, candidate: ServedModel, mode: str, weight: int) -> None:
        """Every series of this pair at zero, so increase() counts from the first request."""
        for role, model in ((STABLE, stable), (CANDIDATE, candidate)):
            for result in ("success", "error"):
                self._outcome(role, model.version, result)
            self._duration(role, model.version)
            for label in model.classes or []:
                self._class(role, model.version, label)
        for result in ("agree", "disagree"):
            self.shadow_rows.labels(version=candidate.version, result=result)
        for reason in ("busy", "values"):
            self.shadow_skipped.labels(version=candidate.version, reason=reason)
        self.shadow_difference.labels(version=candidate.version)
        self.moved(candidate.version, mode, weight)

    def moved(self, version: str, mode: str, weight: int) -> None:
        self.candidate_info.clear()
        self.candidate_info.labels(version=version, mode=mode).set(1)
        self.candidate_share.set(weight / 100 if mode == "canary" else 0)

    def ended(self) -> None:
        self.candidate_info.clear()
        self.candidate_share.set(0)

    def answered(
        self, role: str, model: ServedModel, prediction: Prediction, seconds: float
    ) -> None:
        self._outcome(role, model.version, "success").inc()
        self._duration(role, model.version).observe(seconds)
        for label, count in Tally(prediction.labels).items():
            self._class(role, model.version, label).inc(count)

    def failed(self, role: str, model: ServedModel) -> None:
        self._outcome(role, model.version, "error").inc()

    def compared(self, candidate: ServedModel, agree: int, disagree: int) -> None:
        self.shadow_rows.labels(version=candidate.version, result="agree").inc(agree)
        self.shadow_rows.labels(version=candidate.version, result="disagree").inc(disagree)

    def differences(self, candidate: ServedModel, values: list[float]) -> None:
        child = self.shadow_difference.labels(version=candidate.version)
        for value in values:
            if math.isfinite(value):
                child.observe(value)

    def skipped(self, candidate: ServedModel, reason: str = "busy") -> None:
        self.shadow_skipped.labels(version=candidate.version, reason=reason).inc()

    def _outcome(self, role: str, version: str, result: str) -> Any:
        key = (role, version, result)
        child = self._outcomes.get(key)
        if child is None:
            child = self._outcomes[key] = self.requests.labels(role, version, result)
        return child

    def _duration(self, role: str, version: str) -> Any:
        key = (role, version)
        child = self._durations.get(key)
        if child is None:
            child = self._durations[key] = self.duration.labels(role, version)
        return child

    def _class(self, role: str, version: str, label: Any) -> Any:
        key = (role, version, str(label))
        child = self._classes.get(key)
        if child is None:
            child = self._classes[key] = self.predictions.labels(role, version, str(label))
        return child
