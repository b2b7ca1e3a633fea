"""What this service says about a load point through its own /metrics: model calls, batch
sizes and queue waits, and in shadow mode what became of the candidate's calls, taken as the
difference of two scrapes around the point."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

_WANTED = {
    "inference_model_prediction_duration_seconds": "model",
    "inference_batch_rows": "batch",
    "inference_batch_queue_wait_seconds": "wait",
    "inference_requests_rejected_total": "rejected",
}


def _shadow_key(name: str, labels: dict[str, str]) -> str | None:
    """Which shadow figure a rollout sample adds to
    (service/inference/monitoring/rollout_metrics.py). The requests counter is read by label: it
    holds the stable version's answers too."""
    if name == "inference_rollout_requests_total" and labels.get("role") == "candidate":
        return {"success": "scored", "error": "failed"}.get(labels.get("result", ""))
    if name == "inference_shadow_skipped_total":
        return "skipped"
    if name == "inference_shadow_rows_total":
        return {"agree": "agree", "disagree": "disagree"}.get(labels.get("result", ""))
    return None


def parse_counters(text: str) -> dict[str, float]:
    """Sum and count of the histograms above, the rejected counter and the shadow counters,
    from exposition text. Each is summed over its series: one per `model` label (and version,
    reason), so a service serving several models gives the total of all of them, and one
    serving one model that model's. Differences of two scrapes around a point on one model are
    that model's, as the others answer nothing meanwhile."""
    values: dict[str, float] = {}

    def add(key: str, value: float) -> None:
        values[key] = values.get(key, 0.0) + value

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for name, short in _WANTED.items():
                if sample.name == f"{name}_sum":
                    add(f"{short}_sum", sample.value)
                elif sample.name == f"{name}_count":
                    add(f"{short}_count", sample.value)
                elif sample.name == name:
                    add(short, sample.value)
            short = _shadow_key(sample.name, sample.labels)
            if short is not None:
                add(short, sample.value)
    return values


def scrape(url: str) -> dict[str, float]:
    return parse_counters(httpx.get(f"{url}/metrics", timeout=10).text)


@dataclass(frozen=True)
class ServiceStats:
    model_calls: int
    model_seconds: float
    rows_per_call: float
    queue_wait_ms: float
    rejected: int
    # Shadow mode only: requests whose rows the candidate scored, whose shadow call failed, or
    # that it never saw (ROLLOUT_SHADOW_QUEUE full), and the rows compared, agreeing or not.
    shadow_scored: int = 0
    shadow_failed: int = 0
    shadow_skipped: int = 0
    rows_agree: int = 0
    rows_disagree: int = 0

    def model_ms_per_call(self) -> float:
        return self.model_seconds / self.model_calls * 1000 if self.model_calls else 0.0


def difference(before: dict[str, float], after: dict[str, float]) -> ServiceStats:
    def delta(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    calls = int(delta("model_count"))
    batches = delta("batch_count")
    waits = delta("wait_count")
    return ServiceStats(
        model_calls=calls,
        model_seconds=delta("model_sum"),
        rows_per_call=delta("batch_sum") / batches if batches else 0.0,
        queue_wait_ms=delta("wait_sum") / waits * 1000 if waits else 0.0,
        rejected=int(delta("rejected")),
        shadow_scored=int(delta("scored")),
        shadow_failed=int(delta("failed")),
        shadow_skipped=int(delta("skipped")),
        rows_agree=int(delta("agree")),
        rows_disagree=int(delta("disagree")),
    )
