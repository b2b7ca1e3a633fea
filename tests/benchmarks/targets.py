"""The issue's targets, checked against one run, each with the measurements behind it."""

from __future__ import annotations

from dataclasses import dataclass

from tests.benchmarks.results import MLFLOW_SERVE, OURS, BenchRun, Point
from tests.benchmarks.startup_profile import SKLEARN

TARGET_CONCURRENCY = 16
TARGET_ROWS = 1
# model -> (minimum throughput ratio, p99 bound in ms or None for "lower than mlflow's")
THROUGHPUT_TARGETS = {"logistic_regression": (3.0, None), "random_forest": (10.0, 100.0)}
MAX_RSS_SHARE = 0.5
MAX_START_SHARE = 1 / 3


@dataclass(frozen=True)
class TargetResult:
    name: str
    goal: str
    measured: str
    met: bool | None  # None: not measured in this run
    limit: str = ""

    @property
    def verdict(self) -> str:
        return {True: "met", False: "**missed**", None: "not measured"}[self.met]


def where_time_goes(point: Point) -> str:
    """One sentence from the server's CPU use and, for this service, its own /metrics."""
    parts = [f"{point.cpu_ms_per_request:.2f} CPU-ms per request in the server"]
    stats = point.stats
    if stats and stats.model_calls and point.result:
        busy = stats.model_seconds / point.result.duration_seconds
        parts.append(
            f"model calls {stats.model_ms_per_call():.1f} ms each for "
            f"{stats.rows_per_call:.1f} rows on average (model thread busy {busy:.0%} of the "
            f"time), queue wait {stats.queue_wait_ms:.1f} ms"
        )
    return "; ".join(parts)


def _ratio(ours: float, theirs: float) -> float:
    return ours / theirs if theirs else float("inf")


def throughput_target(run: BenchRun, model: str) -> TargetResult:
    factor, p99_bound = THROUGHPUT_TARGETS[model]
    p99_goal = f"p99 < {p99_bound:.0f} ms" if p99_bound else "lower p99"
    goal = f">= {factor:.0f}x req/s of mlflow models serve, {p99_goal}"
    name = f"{model}: throughput (1 row, {TARGET_CONCURRENCY} connections)"
    ours = run.point(OURS, model, TARGET_ROWS, TARGET_CONCURRENCY)
    theirs = run.point(MLFLOW_SERVE, model, TARGET_ROWS, TARGET_CONCURRENCY)
    if ours is None or theirs is None or ours.result is None or theirs.result is None:
        return TargetResult(name, goal, "not measured", None)
    mine, other = ours.result, theirs.result
    ratio = _ratio(mine.requests_per_second, other.requests_per_second)
    p99_ok = mine.p99_ms < (p99_bound if p99_bound else other.p99_ms)
    measured = (
        f"{ratio:.1f}x ({mine.requests_per_second:,.0f} vs {other.requests_per_second:,.0f} "
        f"req/s); p99 {mine.p99_ms:.1f} vs {other.p99_ms:.1f} ms"
    )
    met = ratio >= factor and p99_ok and mine.errors == 0
    limit = ""
    if not met:
        limit = f"this service: {where_time_goes(ours)}. mlflow: {where_time_goes(theirs)}."
        if mine.errors:
            limit += f" {mine.errors} failed requests."
    return TargetResult(name, goal, measured, met, limit)


def memory_target(run: BenchRun, model: str) -> TargetResult:
    name = f"{model}: RSS after warm-up"
    goal = f"<= {MAX_RSS_SHARE:.0%} of mlflow models serve's process tree"
    ours, theirs = run.facts(OURS, model), run.facts(MLFLOW_SERVE, model)
    if ours is None or theirs is None or not ours.rss_bytes or not theirs.rss_bytes:
        return TargetResult(name, goal, "not measured", None)
    share = ours.rss_bytes / theirs.rss_bytes
    measured = f"{share:.0%} ({ours.rss_bytes / 2**20:.0f} vs {theirs.rss_bytes / 2**20:.0f} MiB)"
    met = share <= MAX_RSS_SHARE
    limit = ""
    if not met:
        limit = (
            f"this service is one process; mlflow's largest process alone holds "
            f"{theirs.largest_process_rss_bytes / 2**20:.0f} MiB. {library_costs(run, 1, 'MiB')}"
        )
    return TargetResult(name, goal, measured, met, limit)


def library_costs(run: BenchRun, index: int, unit: str) -> str:
    """'Imported in a fresh interpreter: a 1.0 s, b 4.1 s, ...' from the startup profile."""
    if not run.imports:
        return ""
    parts = [f"{label} {costs[index]:.1f} {unit}" for label, costs in run.imports.items()]
    return "Imports, each on top of the previous, in a fresh interpreter: " + ", ".join(parts) + "."


def start_target(run: BenchRun, model: str) -> TargetResult:
    name = f"{model}: start -> ready"
    goal = "<= 1/3 of mlflow models serve's"
    ours, theirs = run.facts(OURS, model), run.facts(MLFLOW_SERVE, model)
    if ours is None or theirs is None:
        return TargetResult(name, goal, "not measured", None)
    share = ours.start_to_ready_seconds / theirs.start_to_ready_seconds
    measured = (
        f"{share:.2f} ({ours.start_to_ready_seconds:.1f} vs {theirs.start_to_ready_seconds:.1f} s)"
    )
    met = share <= MAX_START_SHARE
    limit = ""
    if not met:
        limit = (
            "mlflow models serve pays for its imports twice (CLI, then the uvicorn worker); this "
            "service imports scikit-learn (needed to unpickle the model) while a child process "
            "downloads the version with mlflow's client. " + library_costs(run, 0, "s")
        )
        sklearn_seconds = run.imports.get(SKLEARN, (0.0, 0.0))[0]
        if sklearn_seconds:
            limit += (
                f" The target allows {theirs.start_to_ready_seconds * MAX_START_SHARE:.1f} s in "
                f"all; importing scikit-learn alone takes {sklearn_seconds:.1f} s."
            )
    return TargetResult(name, goal, measured, met, limit)


def evaluate(run: BenchRun, models: tuple[str, ...]) -> list[TargetResult]:
    found = []
    for model in models:
        if model in THROUGHPUT_TARGETS:
            found.append(throughput_target(run, model))
    for model in models:
        found.append(memory_target(run, model))
    for model in models:
        found.append(start_target(run, model))
    return found
