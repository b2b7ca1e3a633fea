"""BENCHMARKS.md from one run: machine, headline, targets, full tables, method."""

from __future__ import annotations

from collections.abc import Sequence

from tests.benchmarks.results import (
    MLFLOW_SERVE,
    OURS,
    OURS_SMALL_QUEUE,
    OURS_UNBATCHED,
    BenchRun,
    Point,
)
from tests.benchmarks.targets import TARGET_CONCURRENCY, TARGET_ROWS, TargetResult

MIB = 2**20


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; cells are str()-ed with pipes escaped."""

    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(row) for row in rows)])


def _rate(point: Point | None) -> str:
    return f"{point.result.requests_per_second:,.0f}" if point and point.result else "-"


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _ratio(ours: Point | None, theirs: Point | None) -> str:
    if not (ours and theirs and ours.result and theirs.result):
        return "-"
    if not theirs.result.requests_per_second:
        return "inf"
    return f"{ours.result.requests_per_second / theirs.result.requests_per_second:.1f}x"


def headline(run: BenchRun, models: Sequence[str]) -> str:
    rows = []
    for model in models:
        ours = run.point(OURS, model, TARGET_ROWS, TARGET_CONCURRENCY)
        theirs = run.point(MLFLOW_SERVE, model, TARGET_ROWS, TARGET_CONCURRENCY)
        ours_facts, theirs_facts = run.facts(OURS, model), run.facts(MLFLOW_SERVE, model)
        rows.append(
            [
                model,
                _rate(theirs),
                _ms(theirs.result.p99_ms) if theirs and theirs.result else "-",
                _rate(ours),
                _ms(ours.result.p99_ms) if ours and ours.result else "-",
                _ratio(ours, theirs),
                f"{ours_facts.rss_bytes / MIB:.0f} / {theirs_facts.rss_bytes / MIB:.0f}"
                if ours_facts and theirs_facts
                else "-",
                f"{ours_facts.start_to_ready_seconds:.1f} / "
                f"{theirs_facts.start_to_ready_seconds:.1f}"
                if ours_facts and theirs_facts
                else "-",
            ]
        )
    return table(
        [
            "model",
            "mlflow serve req/s",
            "mlflow p99 ms",
            "this service req/s",
            "this service p99 ms",
            "throughput ratio",
            "RSS MiB (ours / mlflow)",
            "start -> ready s (ours / mlflow)",
        ],
        rows,
    )


def targets_table(results: Sequence[TargetResult]) -> str:
    return table(
        ["target", "goal", "measured", "verdict", "what limits it"],
        [[t.name, t.goal, t.measured, t.verdict, t.limit or "-"] for t in results],
    )


def comparison(run: BenchRun) -> str:
    measured_by_mlflow = {
        (p.model, p.rows, p.concurrency) for p in run.points if p.server == MLFLOW_SERVE
    }
    rows = [
        _point_row(point, run.point(MLFLOW_SERVE, point.model, point.rows, point.concurrency))
        for point in run.points
        if point.server in (OURS, MLFLOW_SERVE)
        and (point.model, point.rows, point.concurrency) in measured_by_mlflow
    ]
    return table(
        [
            "model",
            "rows/request",
            "connections",
            "server",
            "req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "server CPU-ms/request",
            "ratio to mlflow",
        ],
        rows,
    )


def _point_row(point: Point, theirs: Point | None) -> list[object]:
    result = point.result
    if result is None:
        cells: list[object] = ["skipped (time budget)", "-", "-", "-", "-"]
    else:
        cells = [
            f"{result.requests_per_second:,.0f}",
            _ms(result.p50_ms),
            _ms(result.p99_ms),
            result.errors,
            f"{point.cpu_ms_per_request:.2f}",
        ]
    ratio = "1.0x" if point.server == MLFLOW_SERVE and result else _ratio(point, theirs)
    return [point.model, point.rows, point.concurrency, point.server, *cells, ratio]


def start_and_memory(run: BenchRun) -> str:
    return table(
        [
            "model",
            "server",
            "start -> ready s",
            "RSS after warm-up, process tree MiB",
            "largest process MiB",
        ],
        [
            [
                f.model,
                f.server,
                f"{f.start_to_ready_seconds:.1f}",
                f"{f.rss_bytes / MIB:.0f}" if f.rss_bytes else "-",
                f"{f.largest_process_rss_bytes / MIB:.0f}" if f.rss_bytes else "-",
            ]
            for f in run.servers
        ],
    )


def sweep(run: BenchRun) -> str:
    rows = []
    for server in (OURS, OURS_UNBATCHED, OURS_SMALL_QUEUE):
        for point in sorted(
            (p for p in run.points if p.server == server and p.rows == TARGET_ROWS),
            key=lambda p: (p.model, p.concurrency),
        ):
            result, stats = point.result, point.stats
            if result is None:
                rows.append([point.model, server, point.concurrency, "skipped", *["-"] * 6])
                continue
            rows.append(
                [
                    point.model,
                    server,
                    point.concurrency,
                    f"{result.requests_per_second:,.0f}",
                    _ms(result.p50_ms),
                    _ms(result.p99_ms),
                    result.errors,
                    f"{stats.rows_per_call:.1f}" if stats and stats.rows_per_call else "-",
                    _ms(stats.queue_wait_ms) if stats and stats.rows_per_call else "-",
                    _ms(stats.model_ms_per_call()) if stats else "-",
                ]
            )
    return table(
        [
            "model",
            "server",
            "connections",
            "req/s",
            "p50 ms",
            "p99 ms",
            "errors (503s)",
            "rows per model call",
            "queue wait ms",
            "model call ms",
        ],
        rows,
    )


def imports_table(run: BenchRun) -> str:
    if not run.imports:
        return "Not measured in this run (time budget)."
    return (
        "Each library imported in a fresh interpreter, in the order this service needs them; "
        "each row is on top of the rows above. The serving process holds only the first two for "
        "a numeric model; pandas only when the model needs DataFrame input; mlflow's client "
        "only in the short-lived download child, which runs while the service imports "
        "scikit-learn and has exited before RSS is measured. `mlflow models serve` imports all "
        "of them in its worker, and mlflow once more in its CLI parent.\n\n"
        + table(
            ["import", "seconds", "RSS MiB"],
            [[label, f"{sec:.1f}", f"{mib:.0f}"] for label, (sec, mib) in run.imports.items()],
        )
    )


def render(run: BenchRun, models: Sequence[str], results: Sequence[TargetResult]) -> str:
    machine = table(
        ["", ""],
        [
            *run.machine.items(),
            ("Load average 1/5/15 min", f"before: {run.load_before}; after: {run.load_after}"),
            (
                "Per point",
                f"{run.duration_seconds:g} s measured, after a {run.warmup_seconds:g} s warm-up "
                f"(discarded) per server and body; load generator: {run.load_tool}",
            ),
            ("Run time", f"{run.elapsed_seconds:.0f} s"),
        ],
    )
    notes = "\n".join(f"- {note}" for note in run.notes)
    sections = [
        "# Benchmarks",
        f"Generated by `{run.command}` on {run.date}. Every figure comes from this one run: "
        "both servers served the same registered model version on the same machine, under "
        "the same load, so the ratios are meaningful even when the machine is busy.",
        "## Machine",
        machine,
        f"## Headline: {TARGET_ROWS} row per request, {TARGET_CONCURRENCY} connections",
        headline(run, models),
        "## Targets",
        targets_table(results),
        "## This service vs `mlflow models serve` (POST /invocations, dataframe_split)",
        comparison(run),
        "## Start and memory",
        start_and_memory(run),
        "## Concurrency sweep and overload (this service, 1 row per request)",
        sweep(run),
        "## Where start-up time and memory go",
        imports_table(run),
        "## How it is measured",
        METHOD,
    ]
    if notes:
        sections[2:2] = ["## Notes from this run", notes]
    return "\n\n".join(sections) + "\n"


METHOD = """\
- A local MLflow server (sqlite, artifacts proxied) gets two iris models registered:
  StandardScaler + LogisticRegression and RandomForestClassifier(n_estimators=100). Both
  servers serve the same version, `models:/<name>/<version>`.
- `mlflow models serve -m models:/<name>/<version> --env-manager local` (1 worker, its default)
  and `python -m inference` (BATCH_ENABLED=true, defaults otherwise) are started one after the
  other; start -> ready is from process start until `/ping` (mlflow) or `/ready` (this service)
  answers 200, polled every 0.3 s.
- Load: `wrk -t2 -cN` with a Lua script POSTing the same `dataframe_split` body to
  `/invocations` of both; 1-row and 100-row bodies, N = 1 and 16 connections. wrk runs on the
  same 2 cores as the servers. Latency percentiles come from wrk's histogram; errors are
  non-2xx responses plus socket errors (wrk times out a request after 10 s).
- Server CPU-ms/request: CPU time of the server's whole process tree during the point (from
  /proc) divided by the requests answered. Model-call figures come from this service's own
  /metrics (inference_model_prediction_duration_seconds, inference_batch_rows,
  inference_batch_queue_wait_seconds), scraped before and after each point.
- RSS: sum of VmRSS over the server's process tree after its load points.
- The sweep reuses the 1- and 16-connection points of the comparison; the
  QUEUE_MAX_REQUESTS=8 row shows overload behaviour: excess requests get 503 with Retry-After
  at once instead of queueing.
"""
