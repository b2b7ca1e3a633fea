"""What Prometheus says about one step: candidate and stable over the same window, from the
series of one model of one tenant (the labels the ServiceMonitor gives: job, tenant; the
service's own: model).

A tenant's service serves several models, each with its own rollouts, and version numbers are
per model: model A's v2 against v1 and model B's v2 against v1 are different pairs in the same
tenant. So every selector names the model. A series without a `model` label comes from a
service that predates per-model labels and serves one model per tenant: it still belongs to
the tenant's only rollout, hence `model=~"<name>|"` (an empty label matches a missing one)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .prometheus import Prometheus
from .state import RolloutState

_MODEL_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
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


def model_matcher(model: str) -> str:
    """The label matcher of one model's series. A tenant's model names are RFC 1123 labels
    (inference.contracts.tenant_models): letters, digits and `-`, none of them special in a
    regular expression or a PromQL string. Any other character is refused rather than escaped
    (a backslash would need escaping twice, for RE2 and for the string)."""
    if not _MODEL_NAME.match(model):
        raise ValueError(f"model name {model!r}: expected letters, digits, '-' and '_' only")
    return f'model=~"{model}|"'


def gather(prometheus: Prometheus, state: RolloutState, now: float, job: str) -> Evidence:
    window = window_seconds(state, now)
    versions = {CANDIDATE: state.candidate_version, STABLE: state.stable_version}
    versions_re = f"{state.candidate_version}|{state.stable_version}"
    ours_only = f'job="{job}",tenant="{state.tenant}",{model_matcher(state.model)}'
    where = f'{ours_only},version=~"{versions_re}"'

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
    shadow_where = f'{ours_only},version="{state.candidate_version}"'
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
