"""Metrics of a rollout, by model, role (stable, candidate) and version. New names beside the
service's own (metrics.py), so the existing dashboard and alerts are unchanged; the judge
reads these from Prometheus (training/rollout/judge.py). Each served model rolls out on its
own: `model` keeps two rollouts in one service apart, and ModelRolloutMetrics holds one
model's series."""

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
            "Prediction requests during a rollout by the model, role and version that ran them "
            "(shadow: the candidate's shadow calls), by result.",
            ["model", "role", "version", "result"],
            registry=r,
        )
        self.duration = Histogram(
            "inference_rollout_request_duration_seconds",
            "Time to get one request's prediction from this version during a rollout.",
            ["model", "role", "version"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "inference_rollout_predictions",
            "Predicted rows during a rollout, by model, role, version and predicted class.",
            ["model", "role", "version", "class"],
            registry=r,
        )
        self.shadow_rows = Counter(
            "inference_shadow_rows",
            "Rows the candidate scored in shadow, by whether its label agrees with stable's.",
            ["model", "version", "result"],
            registry=r,
        )
        self.shadow_difference = Histogram(
            "inference_shadow_probability_difference",
            "Largest absolute difference between candidate and stable class probabilities, "
            "per row compared in shadow.",
            ["model", "version"],
            buckets=_DIFFERENCE_BUCKETS,
            registry=r,
        )
        self.shadow_skipped = Counter(
            "inference_shadow_skipped",
            "Requests the candidate did not see in shadow, by reason (busy: the queue was full; "
            "values: a value the candidate cannot take as it is).",
            ["model", "version", "reason"],
            registry=r,
        )
        self.candidate_info = Gauge(
            "inference_rollout_candidate_info",
            "1 while a candidate version is loaded beside the stable one, with its mode.",
            ["model", "version", "mode"],
            registry=r,
        )
        self.candidate_share = Gauge(
            "inference_rollout_candidate_share_ratio",
            "Share of requests the candidate answers (0 in shadow or without a rollout).",
            ["model"],
            registry=r,
        )
        self.candidate_loads = Counter(
            "inference_rollout_candidate_loads",
            "Candidate versions loaded, and failed candidate checks (a load, a refused "
            "signature or memory, an unreachable registry), by model and result.",
            ["model", "result"],
            registry=r,
        )

    def for_model(self, name: str) -> ModelRolloutMetrics:
        return ModelRolloutMetrics(self, name)


class ModelRolloutMetrics:
    """The rollout series of one model."""

    def __init__(self, families: RolloutMetrics, model: str) -> None:
        self.families = families
        self.model = model
        self.candidate_loads = {
            result: families.candidate_loads.labels(model, result)
            for result in ("success", "failure")
        }
        self.candidate_share = families.candidate_share.labels(model)
        self._candidate: tuple[str, str] | None = None  # (version, mode) of candidate_info
        # labels() hashes and locks on every call: keep the children of the hot path.
        self._outcomes: dict[tuple[str, str, str], Any] = {}
        self._durations: dict[tuple[str, str], Any] = {}
        self._classes: dict[tuple[str, str, str], Any] = {}

    def began(self, stable: ServedModel, candidate: ServedModel, mode: str, weight: int) -> None:
        """Every series of this pair at zero, so increase() counts from the first request."""
        f, m = self.families, self.model
        for role, model in ((STABLE, stable), (CANDIDATE, candidate)):
            for result in ("success", "error"):
                self._outcome(role, model.version, result)
            self._duration(role, model.version)
            for label in model.classes or []:
                self._class(role, model.version, label)
        for result in ("agree", "disagree"):
            f.shadow_rows.labels(m, candidate.version, result)
        for reason in ("busy", "values"):
            f.shadow_skipped.labels(m, candidate.version, reason)
        f.shadow_difference.labels(m, candidate.version)
        self.moved(candidate.version, mode, weight)

    def moved(self, version: str, mode: str, weight: int) -> None:
        self._clear_candidate()
        self.families.candidate_info.labels(self.model, version, mode).set(1)
        self._candidate = (version, mode)
        self.candidate_share.set(weight / 100 if mode == "canary" else 0)

    def ended(self) -> None:
        self._clear_candidate()
        self.candidate_share.set(0)

    def _clear_candidate(self) -> None:
        """This model's candidate_info only: another model's rollout keeps its series."""
        if self._candidate is not None:
            self.families.candidate_info.remove(self.model, *self._candidate)
            self._candidate = None

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
        rows = self.families.shadow_rows
        rows.labels(self.model, candidate.version, "agree").inc(agree)
        rows.labels(self.model, candidate.version, "disagree").inc(disagree)

    def differences(self, candidate: ServedModel, values: list[float]) -> None:
        child = self.families.shadow_difference.labels(self.model, candidate.version)
        for value in values:
            if math.isfinite(value):
                child.observe(value)

    def skipped(self, candidate: ServedModel, reason: str = "busy") -> None:
        self.families.shadow_skipped.labels(self.model, candidate.version, reason).inc()

    def _outcome(self, role: str, version: str, result: str) -> Any:
        key = (role, version, result)
        child = self._outcomes.get(key)
        if child is None:
            child = self._outcomes[key] = self.families.requests.labels(
                self.model, role, version, result
            )
        return child

    def _duration(self, role: str, version: str) -> Any:
        key = (role, version)
        child = self._durations.get(key)
        if child is None:
            child = self._durations[key] = self.families.duration.labels(self.model, role, version)
        return child

    def _class(self, role: str, version: str, label: Any) -> Any:
        key = (role, version, str(label))
        child = self._classes.get(key)
        if child is None:
            child = self._classes[key] = self.families.predictions.labels(
                self.model, role, version, str(label)
            )
        return child
