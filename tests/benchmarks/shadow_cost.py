"""What shadow mode costs, from the alternating pairs of one run: the service with a candidate
in its shadow step (every request answered by the stable version, then scored again by the
candidate off the response path) against the same service without a rollout policy.

There is no target: the issue asks for the figure. Both views are kept, as for drift counting:
req/s (what a client sees, as noisy as the machine is busy) and the server's CPU per request
(what a CPU-bound server pays, which hardly moves with the machine's other load)."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from tests.benchmarks.results import OURS_NO_SHADOW, OURS_SHADOW, BenchRun


@dataclass(frozen=True)
class ShadowCost:
    pairs: int
    shadow_rps: float  # means over the pairs, for scale
    plain_rps: float
    # Medians over the pairs: shadow req/s over plain req/s, and shadow CPU per request over
    # plain CPU per request.
    rps_ratio: float
    cpu_ratio: float
    # Medians over the pairs, server CPU milliseconds per request.
    shadow_cpu_ms: float
    plain_cpu_ms: float
    # Summed over the shadow points of the pairs, from the service's /metrics: requests whose
    # rows the candidate scored, whose shadow call failed, that it never saw (queue full), and
    # the rows compared.
    scored: int
    failed: int
    skipped: int
    rows_agree: int
    rows_disagree: int

    @property
    def scored_share(self) -> float | None:
        """Of the requests shadowed during the points, the share the candidate scored. Calls
        still queued when a point ended are counted in no point; there are at most
        ROLLOUT_SHADOW_QUEUE of them."""
        settled = self.scored + self.failed + self.skipped
        return self.scored / settled if settled else None

    @property
    def agreement(self) -> float | None:
        compared = self.rows_agree + self.rows_disagree
        return self.rows_agree / compared if compared else None


def shadow_cost(run: BenchRun, model: str, rows: int, concurrency: int) -> ShadowCost | None:
    """Pairs are the n-th shadow and the n-th plain point, measured one right after the other."""
    pairs = run.pairs(OURS_SHADOW, OURS_NO_SHADOW, model, rows, concurrency)
    if not pairs:
        return None
    with_cpu = [(a, b) for a, b in pairs if a.cpu_seconds and b.cpu_seconds]
    stats = [a.stats for a, _ in pairs if a.stats is not None]
    return ShadowCost(
        pairs=len(pairs),
        shadow_rps=sum(a.requests_per_second for a, _ in pairs) / len(pairs),
        plain_rps=sum(b.requests_per_second for _, b in pairs) / len(pairs),
        rps_ratio=median(a.requests_per_second / b.requests_per_second for a, b in pairs),
        cpu_ratio=median(a.cpu_ms_per_request / b.cpu_ms_per_request for a, b in with_cpu)
        if with_cpu
        else 0.0,
        shadow_cpu_ms=median(a.cpu_ms_per_request for a, _ in pairs),
        plain_cpu_ms=median(b.cpu_ms_per_request for _, b in pairs),
        scored=sum(s.shadow_scored for s in stats),
        failed=sum(s.shadow_failed for s in stats),
        skipped=sum(s.shadow_skipped for s in stats),
        rows_agree=sum(s.rows_agree for s in stats),
        rows_disagree=sum(s.rows_disagree for s in stats),
    )
