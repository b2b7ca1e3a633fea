"""What Prometheus says about one step: candidate and stable over the same window, from the
series of one tenant's services (the labels the ServiceMonitor gives: job, tenant)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .prometheus import Prometheus
from .state import RolloutState

CANDIDATE = "candidate"
STABLE = "stable"


@dataclass(frozen=True)
class Evidence:
    window_seconds: int
    requests: dict[str, float] = field(default_factory=dict)  # role -> requests
    errors: dict[str, float] = field(default_factory=dict)  # role -> failed requests
    # role -> cumulative latency histogram over the window: [(le seconds, count), ...]
    latency: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    agree: float = 0.0  # shadow rows whose labels agree
    disagree: float = 0.0
    classes: dict[str, dict[str, float]] = field(default_factory=dict)  # role -> class -> rows


def window_seconds(state: RolloutState, now: float) -> int:
    return max(1, math.ceil(now - state.step_started_at))


def gather(prometheus: Prometheus, state: RolloutState, now: float, job: str) -> Evidence:
    window = window_seconds(state, now)
    versions = {CANDIDATE: state.candidate_version, STABLE: state.stable_version}
    versions_re = f"{state.candidate_version}|{state.stable_version}"
    where = f'job="{job}",tenant="{state.tenant}",version=~"{versions_re}"'

    def ours(labels: dict[str, str]) -> str | None:
        """The role of a series of this rollout's pair (role and version must match)."""
        role = labels.get("role", "")
        return role if versions.get(role) == labels.get("version") else None

    requests: dict[str, float] = {CANDIDATE: 0.0, STABLE: 0.0}
    errors: dict[str, float] = {CANDIDATE: 0.0, STABLE: 0.0}
    for sample in prometheus.query(
        f"sum by (role, version, result) "
        f"(increase(inference_rollout_requests_total{{{where}}}[{window}s]))"
    ):
        role = ours(sample.labels)
        if role is None or not math.isfinite(sample.value):
            continue
        requests[role] += sample.value
        if sample.labels.get("result") == "error":
            errors[role] += sample.value

    latency: dict[str, list[tuple[float, float]]] = {CANDIDATE: [], STABLE: []}
    for sample in prometheus.query(
        f"sum by (role, version, le) "
        f"(increase(inference_rollout_request_duration_seconds_bucket{{{where}}}[{window}s]))"
    ):
        role = ours(sample.labels)
        if role is not None and math.isfinite(sample.value):
            latency[role].append((float(sample.labels.get("le", "+Inf")), sample.value))

    agree = disagree = 0.0
    shadow_where = f'job="{job}",tenant="{state.tenant}",version="{state.candidate_version}"'
    for sample in prometheus.query(
        f"sum by (result) (increase(inference_shadow_rows_total{{{shadow_where}}}[{window}s]))"
    ):
        if not math.isfinite(sample.value):
            continue
        if sample.labels.get("result") == "agree":
            agree += sample.value
        elif sample.labels.get("result") == "disagree":
            disagree += sample.value

    classes: dict[str, dict[str, float]] = {CANDIDATE: {}, STABLE: {}}
    for sample in prometheus.query(
        f"sum by (role, version, class) "
        f"(increase(inference_rollout_predictions_total{{{where}}}[{window}s]))"
    ):
        role = ours(sample.labels)
        if role is not None and math.isfinite(sample.value):
            classes[role][sample.labels.get("class", "")] = sample.value

    return Evidence(window, requests, errors, latency, agree, disagree, classes)
