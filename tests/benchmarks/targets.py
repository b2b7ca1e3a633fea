"""The targets, checked against one run, each with the measurements behind it.

This service's figures are those of the v2 request (OURS_V2: the request MLServer gets);
`mlflow models serve` gets its own fastest body (dataframe_split on /invocations)."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from tests.benchmarks.results import (
    MLFLOW_SERVE,
    OURS,
    OURS_DRIFT,
    OURS_NO_DRIFT,
    OURS_V2,
    BenchRun,
    Point,
)
from tests.benchmarks.startup_profile import ONNXRUNTIME, SKLEARN, WEB

TARGET_CONCURRENCY = 16
TARGET_ROWS = 1
MIN_RATIO_TO_MLFLOW = 50.0
MIN_RATIO_TO_MLSERVER = 5.0
# model -> the largest p50 at 1 connection, ms
MAX_P50_ONE_CONNECTION_MS = {"random_forest": 1.5}
MAX_START_SECONDS = 1.5
# For a version the service answers with ONNX (GET /model/info "runtime": "onnx").
MAX_ONNX_RSS_MIB = 110.0
# Drift counting may cost at most this share of req/s at the target load (same run, paired).
MAX_DRIFT_COST = 0.05
ONNX = "onnx"
MIB = 2**20


@dataclass(frozen=True)
class TargetResult:
    name: str
    goal: str
    measured: str
    met: bool | None  # None: not measured in this run, or the target does not apply
    limit: str = ""
    unmeasured: str = "not measured"  # the verdict when met is None

    @property
    def verdict(self) -> str:
        return {True: "met", False: "**missed**", None: self.unmeasured}[self.met]


def where_time_goes(point: Point) -> str:
    """One sentence from the server's CPU use and, for this service, its own /metrics."""
    parts = [f"{point.cpu_ms_per_request:.2f} CPU-ms per request in the server"]
    if point.result and point.result.duration_seconds:
        cores = point.cpu_seconds / point.result.duration_seconds
        parts[0] += f" ({cores:.0%} of one core)"
    stats = point.stats
    if stats and stats.model_calls and point.result:
        busy = stats.model_seconds / point.result.duration_seconds
        if stats.rows_per_call:
            parts.append(
                f"model calls {stats.model_ms_per_call():.2f} ms each for "
                f"{stats.rows_per_call:.1f} rows on average (model busy {busy:.0%} of the "
                f"time), queue wait {stats.queue_wait_ms:.2f} ms"
            )
        else:  # called on the event loop, neither queued nor batched
            parts.append(
                f"model calls {stats.model_ms_per_call():.2f} ms each on the event loop "
                f"(model busy {busy:.0%} of the time); the rest is HTTP, JSON and the event "
                "loop of one process"
            )
    return "; ".join(parts)


def _ratio(ours: float, theirs: float) -> float:
    return ours / theirs if theirs else float("inf")


def _ratio_target(
    run: BenchRun, model: str, theirs: Point | None, peer: str, factor: float
) -> TargetResult:
    name = f"{model}: throughput vs {peer} ({TARGET_ROWS} row, {TARGET_CONCURRENCY} connections)"
    goal = f">= {factor:g}x req/s of {peer}"
    ours = run.point(OURS_V2, model, TARGET_ROWS, TARGET_CONCURRENCY)
    if ours is None or theirs is None or ours.result is None or theirs.result is None:
        return TargetResult(name, goal, "not measured", None)
    mine, other = ours.result, theirs.result
    ratio = _ratio(mine.requests_per_second, other.requests_per_second)
    measured = (
        f"{ratio:.1f}x ({mine.requests_per_second:,.0f} vs {other.requests_per_second:,.0f} "
        f"req/s; p50 {mine.p50_ms:.2f} vs {other.p50_ms:.1f} ms, p99 {mine.p99_ms:.1f} vs "
        f"{other.p99_ms:.1f} ms); runtime {run.runtime(model)}"
    )
    if theirs.server != MLFLOW_SERVE:
        measured += f"; best MLServer: {theirs.server}"
    met = ratio >= factor and mine.errors == 0
    limit = ""
    if not met:
        limit = (
            f"this service: {where_time_goes(ours)}. {theirs.server}: {where_time_goes(theirs)}."
        )
        if mine.errors:
            limit += f" {mine.errors} failed requests."
    return TargetResult(name, goal, measured, met, limit)


def throughput_vs_mlflow(run: BenchRun, model: str) -> TargetResult:
    theirs = run.point(MLFLOW_SERVE, model, TARGET_ROWS, TARGET_CONCURRENCY)
    return _ratio_target(run, model, theirs, MLFLOW_SERVE, MIN_RATIO_TO_MLFLOW)


def throughput_vs_mlserver(run: BenchRun, model: str) -> TargetResult:
    theirs = run.best_mlserver(model, TARGET_ROWS, TARGET_CONCURRENCY)
    return _ratio_target(run, model, theirs, "MLServer's best configuration", MIN_RATIO_TO_MLSERVER)


def single_connection_target(run: BenchRun, model: str) -> TargetResult:
    bound = MAX_P50_ONE_CONNECTION_MS[model]
    name = f"{model}: p50 at 1 connection ({TARGET_ROWS} row)"
    goal = f"<= {bound:g} ms"
    ours = run.point(OURS_V2, model, TARGET_ROWS, 1)
    if ours is None or ours.result is None:
        return TargetResult(name, goal, "not measured", None)
    measured = (
        f"{ours.result.p50_ms:.2f} ms (p99 {ours.result.p99_ms:.2f} ms); "
        f"runtime {run.runtime(model)}"
    )
    met = ours.result.p50_ms <= bound and ours.result.errors == 0
    limit = "" if met else f"this service: {where_time_goes(ours)}."
    return TargetResult(name, goal, measured, met, limit)


def library_costs(run: BenchRun, model: str, index: int, unit: str) -> str:
    """'Imports in a fresh interpreter: a 1.0 s, b 4.1 s.' from the startup profile: what the
    serving process of `model` imports (its runtime's chain)."""
    wanted = (WEB, ONNXRUNTIME) if run.runtime(model) == ONNX else (WEB, SKLEARN)
    parts = [
        f"{label} {costs[index]:.{2 if unit == 's' else 0}f} {unit}"
        for label, costs in run.imports.items()
        if label in wanted
    ]
    if not parts:
        return ""
    return "Imports in a fresh interpreter: " + ", ".join(parts) + "."


def start_target(run: BenchRun, model: str) -> TargetResult:
    name = f"{model}: start -> ready"
    goal = f"<= {MAX_START_SECONDS:g} s"
    ours = run.facts(OURS, model)
    if ours is None:
        return TargetResult(name, goal, "not measured", None)
    seconds = ours.start_to_ready_seconds
    measured = f"{seconds:.2f} s; runtime {run.runtime(model)}"
    met = seconds <= MAX_START_SECONDS
    limit = ""
    if not met:
        limit = (
            "the interpreter's start, the imports, the version's download from the registry "
            "(overlapping the runtime's import) and the runtime's self-check. "
            + library_costs(run, model, 0, "s")
        )
    return TargetResult(name, goal, measured, met, limit)


def memory_target(run: BenchRun, model: str) -> TargetResult:
    name = f"{model}: RSS after warm-up (ONNX-served)"
    goal = f"<= {MAX_ONNX_RSS_MIB:.0f} MiB for a version served by ONNX"
    ours = run.facts(OURS, model)
    if ours is None or not ours.rss_bytes:
        return TargetResult(name, goal, "not measured", None)
    runtime = run.runtime(model)
    measured = f"{ours.rss_bytes / MIB:.0f} MiB; runtime {runtime}"
    if runtime != ONNX:
        return TargetResult(name, goal, measured, None, unmeasured=f"n/a (served by {runtime})")
    met = ours.rss_bytes / MIB <= MAX_ONNX_RSS_MIB
    limit = "" if met else library_costs(run, model, 1, "MiB")
    return TargetResult(name, goal, measured, met, limit)


@dataclass(frozen=True)
class DriftCost:
    """Drift counting at one load: the alternating on/off pairs, and the counting's own CPU."""

    pairs: int
    on_rps: float  # means over the pairs, for scale
    off_rps: float
    # Medians over the pairs: the share of req/s counting cost (negative: it measured
    # faster), and how much more server CPU a request took with it. Both move with the
    # machine's other load.
    cost: float
    cpu_cost: float
    # The server's CPU per request with counting off (median), and the counting's own CPU per
    # request (drift_counting.py) when timed: their ratio is what counting costs a CPU-bound
    # server, and hardly moves with the machine's other load.
    off_cpu_seconds: float
    counting_seconds: float | None

    @property
    def counting_share(self) -> float | None:
        if self.counting_seconds is None or not self.off_cpu_seconds:
            return None
        return self.counting_seconds / self.off_cpu_seconds


def drift_cost(run: BenchRun, model: str, rows: int, concurrency: int) -> DriftCost | None:
    """Pairs are the n-th on and the n-th off point, measured one right after the other."""
    pairs = run.pairs(OURS_DRIFT, OURS_NO_DRIFT, model, rows, concurrency)
    if not pairs:
        return None
    measured_cpu = [(a, b) for a, b in pairs if a.cpu_seconds and b.cpu_seconds]
    return DriftCost(
        len(pairs),
        sum(a.requests_per_second for a, _ in pairs) / len(pairs),
        sum(b.requests_per_second for _, b in pairs) / len(pairs),
        median([1 - a.requests_per_second / b.requests_per_second for a, b in pairs]),
        median([a.cpu_ms_per_request / b.cpu_ms_per_request - 1 for a, b in measured_cpu])
        if measured_cpu
        else 0.0,
        median([b.cpu_ms_per_request / 1000 for _, b in pairs]),
        run.drift_counting_seconds.get(model, {}).get(rows),
    )


def drift_cost_target(run: BenchRun, model: str) -> TargetResult:
    name = f"{model}: cost of drift counting ({TARGET_ROWS} row, {TARGET_CONCURRENCY} connections)"
    goal = f"<= {MAX_DRIFT_COST:.0%} of throughput (the server's CPU per request), same run"
    found = drift_cost(run, model, TARGET_ROWS, TARGET_CONCURRENCY)
    if found is None or found.counting_share is None:
        return TargetResult(name, goal, "not measured", None)
    assert found.counting_seconds is not None
    measured = (
        f"{found.counting_share:.1%} ({found.counting_seconds * 1e6:.1f} us of "
        f"{found.off_cpu_seconds * 1e6:.0f} us CPU per request); alternating pairs: "
        f"{found.cost:+.1%} req/s cost, {found.cpu_cost:+.1%} server CPU per request "
        f"(median of {found.pairs})"
    )
    met = found.counting_share <= MAX_DRIFT_COST
    return TargetResult(name, goal, measured, met)


def evaluate(run: BenchRun, models: tuple[str, ...]) -> list[TargetResult]:
    found = [throughput_vs_mlflow(run, model) for model in models]
    found += [throughput_vs_mlserver(run, model) for model in models]
    found += [single_connection_target(run, m) for m in models if m in MAX_P50_ONE_CONNECTION_MS]
    found += [start_target(run, model) for model in models]
    found += [memory_target(run, model) for model in models]
    found += [drift_cost_target(run, model) for model in models]
    # floor_routes builds its targets from this module's TargetResult: imported here, not at
    # the top, so neither module imports the other while it is being loaded.
    from tests.benchmarks.floor_routes import floor_targets

    found += [target for model in models for target in floor_targets(run, model)]
    return found
