"""BENCHMARKS.md from one run: machine, headline, targets, full tables, method."""

from __future__ import annotations

from collections.abc import Sequence

from tests.benchmarks import headline as top
from tests.benchmarks import multi_model_report
from tests.benchmarks.floor_routes import (
    MIN_SHARE_OF_FLOOR,
    STRETCH_SHARE_OF_FLOOR,
    floor_routes_table,
)
from tests.benchmarks.results import (
    HTTP_FLOOR,
    MLFLOW_SERVE,
    MLSERVER,
    OURS,
    OURS_DRIFT,
    OURS_SHADOW,
    OURS_SKLEARN,
    OURS_SMALL_QUEUE,
    OURS_UNBATCHED,
    OURS_V2,
    BenchRun,
    Point,
)
from tests.benchmarks.shadow_cost import shadow_cost
from tests.benchmarks.tables import MIB, ms, rate, ratio, table
from tests.benchmarks.targets import TARGET_CONCURRENCY, TARGET_ROWS, TargetResult, drift_cost

__all__ = ["render", "table"]


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
            ms(result.p50_ms),
            ms(result.p99_ms),
            result.errors,
            f"{point.cpu_ms_per_request:.2f}",
        ]
    shown = "1.0x" if point.server == MLFLOW_SERVE and result else ratio(point, theirs)
    return [point.model, point.rows, point.concurrency, point.server, *cells, shown]


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
    for server in (OURS, OURS_SKLEARN, OURS_UNBATCHED, OURS_SMALL_QUEUE):
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
                    ms(result.p50_ms),
                    ms(result.p99_ms),
                    result.errors,
                    f"{stats.rows_per_call:.1f}" if stats and stats.rows_per_call else "-",
                    ms(stats.queue_wait_ms) if stats and stats.rows_per_call else "-",
                    ms(stats.model_ms_per_call()) if stats else "-",
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


def v2_table(run: BenchRun) -> str:
    """Every point of the v2 request: this service and each MLServer configuration."""
    points = sorted(
        (p for p in run.points if p.server == OURS_V2 or p.server.startswith(MLSERVER)),
        key=lambda p: (p.model, p.concurrency, p.server != OURS_V2),
    )
    rows = []
    for point in points:
        ours = run.point(OURS_V2, point.model, point.rows, point.concurrency)
        result = point.result
        cells: list[object] = (
            ["skipped (time budget)", "-", "-", "-", "-"]
            if result is None
            else [
                f"{result.requests_per_second:,.0f}",
                ms(result.p50_ms),
                ms(result.p99_ms),
                result.errors,
                f"{point.cpu_ms_per_request:.2f}",
            ]
        )
        mine = "-" if point.server == OURS_V2 else ratio(ours, point)
        rows.append([point.model, point.concurrency, point.server, *cells, mine])
    return table(
        [
            "model",
            "connections",
            "server",
            "req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "server CPU-ms/request",
            "this service's ratio",
        ],
        rows,
    )


def drift_table(run: BenchRun, models: Sequence[str]) -> str:
    """Drift counting on against off, per model and request size, at 16 connections."""
    rows = []
    for model in models:
        for size in sorted({p.rows for p in run.points if p.server == OURS_DRIFT}):
            found = drift_cost(run, model, size, TARGET_CONCURRENCY)
            if found is None:
                continue
            share = found.counting_share
            rows.append(
                [
                    model,
                    size,
                    TARGET_CONCURRENCY,
                    f"{found.counting_seconds * 1e6:.1f}" if found.counting_seconds else "-",
                    f"{found.off_cpu_seconds * 1e6:.0f}",
                    "-" if share is None else f"{share:.1%}",
                    found.pairs,
                    f"{found.on_rps:,.0f}",
                    f"{found.off_rps:,.0f}",
                    f"{found.cost:+.1%}",
                    f"{found.cpu_cost:+.1%}",
                ]
            )
    if not rows:
        return "Not measured in this run."
    return table(
        [
            "model",
            "rows/request",
            "connections",
            "counting, CPU us/request",
            "server, CPU us/request (counting off)",
            "share",
            "pairs",
            "req/s, counting on (mean)",
            "req/s, DRIFT_ENABLED=false (mean)",
            "req/s cost (median of pairs)",
            "server CPU/request (median of pairs)",
        ],
        rows,
    )


def shadow_table(run: BenchRun, models: Sequence[str]) -> str:
    """A candidate in shadow against no rollout policy, per model and request size, at 16
    connections."""
    rows = []
    for model in models:
        for size in sorted({p.rows for p in run.points if p.server == OURS_SHADOW}):
            found = shadow_cost(run, model, size, TARGET_CONCURRENCY)
            if found is None:
                continue
            share, agreement = found.scored_share, found.agreement
            settled = found.scored + found.failed + found.skipped
            scored = "-"
            if share is not None:
                scored = (
                    f"{share:.1%} ({found.scored:,} of {settled:,}; {found.skipped:,} skipped, "
                    f"{found.failed:,} failed)"
                )
            rows.append(
                [
                    model,
                    size,
                    TARGET_CONCURRENCY,
                    found.pairs,
                    f"{found.shadow_rps:,.0f}",
                    f"{found.plain_rps:,.0f}",
                    f"{found.rps_ratio:.2f}",
                    f"{found.shadow_cpu_ms:.3f}",
                    f"{found.plain_cpu_ms:.3f}",
                    f"{found.cpu_ratio:.2f}" if found.cpu_ratio else "-",
                    scored,
                    "-" if agreement is None else f"{agreement:.1%}",
                    run.shadow_load.get(model, "-"),
                ]
            )
    if not rows:
        return "Not measured in this run."
    return table(
        [
            "model",
            "rows/request",
            "connections",
            "pairs",
            "req/s, shadow (mean)",
            "req/s, no policy (mean)",
            "req/s ratio shadow / no policy (median of pairs)",
            "server CPU-ms/request, shadow (median)",
            "server CPU-ms/request, no policy (median)",
            "CPU/request ratio (median of pairs)",
            "requests the candidate scored",
            "rows agreeing",
            "load average 1/5/15 min at the start",
        ],
        rows,
    )


def floor_table(run: BenchRun, models: Sequence[str]) -> str:
    """This service against the HTTP floor at the target point: how much of its time per
    request is the HTTP stack's, and how far the stack alone would go against mlflow."""
    rows = []
    for model in models:
        ours = run.point(OURS_V2, model, TARGET_ROWS, TARGET_CONCURRENCY)
        floor = run.point(HTTP_FLOOR, model, TARGET_ROWS, TARGET_CONCURRENCY)
        mlflow = run.point(MLFLOW_SERVE, model, TARGET_ROWS, TARGET_CONCURRENCY)
        if ours is None or floor is None:
            continue
        added = ours.cpu_ms_per_request - floor.cpu_ms_per_request
        rows.append(
            [
                model,
                rate(ours),
                rate(floor),
                # Two decimals: the floor targets are shares like 0.35x.
                f"{ours.requests_per_second / floor.requests_per_second:.2f}x"
                if floor.requests_per_second
                else "inf",
                f"{ours.cpu_ms_per_request:.3f}",
                f"{floor.cpu_ms_per_request:.3f}",
                f"{added:.3f}",
                ratio(ours, mlflow),
                ratio(floor, mlflow),
            ]
        )
    if not rows:
        return "Not measured in this run."
    return table(
        [
            "model",
            "req/s, this service (v2)",
            "req/s, HTTP floor",
            "this service / floor",
            "server CPU-ms/request, this service",
            "server CPU-ms/request, floor",
            "CPU-ms/request the service adds",
            "this service / mlflow models serve",
            "floor / mlflow models serve (the stack's ceiling)",
        ],
        rows,
    )


def imports_table(run: BenchRun) -> str:
    if not run.imports:
        return "Not measured in this run (time budget)."
    return (
        "Each library imported in a fresh interpreter, each row on top of the rows above it "
        "in its chain: onnxruntime after fastapi + uvicorn (a version served by ONNX imports "
        "nothing of scikit-learn), and scikit-learn after fastapi + uvicorn in a second "
        "interpreter. The serving process holds fastapi + uvicorn and its runtime; pandas only "
        "when the model needs DataFrame input; mlflow's client only in a short-lived download "
        "child, for artifacts not behind MLflow's proxy. `mlflow models serve` imports all of "
        "them in its worker, and mlflow once more in its CLI parent; MLServer imports its own "
        "stack and scikit-learn in its main process and again in each inference worker.\n\n"
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
                f"(discarded) per server, route and body; load generator: {run.load_tool}",
            ),
            ("Run time", f"{run.elapsed_seconds:.0f} s"),
        ],
    )
    notes = "\n".join(f"- {note}" for note in run.notes)
    sections = [
        "# Benchmarks",
        f"Generated by `{run.command}` on {run.date}. Every figure comes from this one run: "
        "every server served the same registered model version on the same machine, under "
        "the same load, so the ratios are meaningful even when the machine is busy.",
        "## Machine",
        machine,
        f"## Headline: {TARGET_ROWS} row per request, {TARGET_CONCURRENCY} connections",
        "This service and MLServer get the same Open Inference Protocol (v2) request, one "
        "[1, 4] FP64 tensor; `mlflow models serve` gets its fastest body, dataframe_split on "
        "/invocations. This service was sent: "
        f"{run.ours_v2_request or 'nothing (not measured)'}. RSS is summed over each server's "
        "process tree after its load points. The last column is this service's req/s divided "
        "by that server's.",
        top.headline(run, models),
        "This service's figure divided by each peer's, at the same point (above 1: more of "
        "it; below 1: less of it):",
        top.ratios(run, models),
        "## Random forest at 1 connection",
        top.single_connection(run, models),
        "## Targets",
        targets_table(results),
        "## MLServer configurations",
        top.mlserver_configs(run),
        "## The service's container",
        "The service's images (service/Dockerfile, built as the image workflow's build matrix "
        "builds them: the full image, and the slim one for pickle-free tenants) on the same "
        "version, run with a read-only root filesystem and tmpfs for its cache and /tmp, on "
        "the host network; image MB is `docker image inspect` Size (10^6 bytes, on this "
        "machine's base image), memory is `docker stats` after a warm-up (the container's "
        "cgroup, tmpfs included).\n\n" + top.containers(run),
        "## The v2 request: this service and MLServer (1 row per request)",
        v2_table(run),
        "## This service vs `mlflow models serve` (POST /invocations, dataframe_split)",
        comparison(run),
        "## Start and memory",
        start_and_memory(run),
        "## Concurrency sweep, runtimes and overload (this service, 1 row per request)",
        sweep(run),
        "## The cost of drift counting",
        "This service as shipped counts every row into its version's drift bins "
        "(service/inference/monitoring/drift.py). *Share*: the counting's own CPU time per "
        "request (timed alone on the version's reference and the same rows) over the server's "
        "CPU per request with counting off: what counting costs a CPU-bound server's "
        "throughput. The pairs "
        "alternate the shipped service and one with DRIFT_ENABLED=false on /invocations "
        "(dataframe_split): a direct comparison, as noisy as the machine is busy.\n\n"
        + drift_table(run, models),
        "## The cost of shadow mode",
        "In a rollout's shadow step (service/inference/rollout/shadow.py) the stable version "
        "answers every request and a candidate version scores the same rows off the response "
        "path: two model calls per request, plus the comparison. The candidate here is a second "
        "version of the same model (the same artifacts), so it costs what the stable version "
        "costs. The pairs alternate a service with the rollout policy and the candidate in its "
        "shadow step and one without a policy, on /invocations (dataframe_split); both follow "
        "the same alias to the same stable version and poll the registry every second. *Requests "
        "the candidate scored*: of the requests shadowed during the shadow points, those whose "
        "rows the candidate scored, from the service's own /metrics; the others were skipped "
        "(the shadow queue, ROLLOUT_SHADOW_QUEUE, was full) or failed. No target: this is the "
        "figure the rollout issue asks for. req/s is what a client sees and moves with the "
        "machine's other load; CPU per request is what a CPU-bound server pays.\n\n"
        + shadow_table(run, models),
        "## What the HTTP stack costs: the floor",
        "The floor is uvicorn configured as this service runs it (one process, no access log, "
        "no server header) but with uvicorn's own HTTP protocol and proxy-header handling, "
        "where the service writes each response in one write() and skips the proxy headers; "
        "answering every request with this service's own response bytes "
        "and doing nothing else (tests/benchmarks/http_floor.py); it gets the same v2 request "
        "right after this service, at the target point. No service on this stack can be "
        "faster on this machine, so the difference in CPU per request is what the service "
        "itself does per request: reading and validating the body, the model call, metrics, "
        "drift counting and the response. The last column is the most any service on this "
        "stack could show against `mlflow models serve` in this run.\n\n"
        + floor_table(run, models),
        "## Every prediction path against the floor",
        "Each prediction path gets its own 1-row body at the target concurrency, this service "
        "first and the floor right after it, the floor answering that path with the service's "
        "own answer to that body (tests/benchmarks/floor_routes.py), each server pinned to one "
        "core and wrk to the others (tests/benchmarks/one_core.py), so req/s is what one core "
        "answers, as in a one-core pod. The target is the share of the floor's req/s and of "
        "its per-core throughput (the inverse of server CPU per request, which holds even "
        f"when the load generator sets the pace), at least {MIN_SHARE_OF_FLOOR:g}x each on "
        f"every path for every model (stretch {STRETCH_SHARE_OF_FLOOR:g}x).\n\n"
        + floor_routes_table(run, models),
        "## Many models in one service, beside MLServer",
        multi_model_report.section(run),
        "## Where start-up time and memory go",
        imports_table(run),
        "## How it is measured",
        METHOD,
    ]
    if notes:
        sections[2:2] = ["## Notes from this run", notes]
    return "\n\n".join(sections) + "\n"


METHOD = """\
- A local MLflow server (sqlite, artifacts proxied) gets two iris models registered as
  training registers them: StandardScaler + LogisticRegression and
  RandomForestClassifier(n_estimators=100), each with its ONNX copy when training's
  equivalence gate passes. Every server serves the same version, `models:/<name>/<version>`.
- `mlflow models serve -m models:/<name>/<version> --env-manager local` (1 worker, its default),
  `python -m inference` (defaults: batching on, runtime auto) and MLServer 1.7.1 with
  mlserver-sklearn (its own venv, .tools/mlserver; each configuration of the table above)
  run side by side; start -> ready is from process start until `/ping` (mlflow), `/ready`
  (this service) or `/v2/models/<name>/ready` (MLServer) answers 200, polled every 0.05 s.
- Load: `wrk -t2 -cN` with a Lua script POSTing one body. mlflow and this service: the same
  `dataframe_split` body to `/invocations`, 1 and 100 rows, N = 1 and 16. This service and
  MLServer: the same v2 body (one [1, 4] FP64 tensor) to `/v2/models/<name>/infer`, N = 16,
  and N = 1 for this service and MLServer without inference workers. At each N the servers
  are measured one right after the other. wrk runs on the same 2 cores as the servers.
  Latency percentiles come from wrk's histogram; errors are non-2xx responses plus socket
  errors (wrk times out a request after 10 s).
- Server CPU-ms/request: CPU time of the server's whole process tree during the point (from
  /proc) divided by the requests answered. Model-call figures come from this service's own
  /metrics (inference_model_prediction_duration_seconds, inference_batch_rows,
  inference_batch_queue_wait_seconds), scraped before and after each point.
- RSS: sum of VmRSS over the server's process tree after its load points. The runtime is
  what this service's GET /model/info says (`runtime`; "sklearn" when absent).
- The sweep reuses the 1- and 16-connection points of the comparison. The variants run
  MODEL_RUNTIME=sklearn, where batching and the queue apply (an ONNX call cheaper than a
  thread handoff runs on the event loop, unqueued): batching on and off, and
  QUEUE_MAX_REQUESTS=8 under 64 connections, where excess requests get 503 with Retry-After
  at once instead of queueing.
- Both versions carry a drift reference, as training registers them, so this service counts
  drift in every point. Its cost: the running service (label "drift counting on (paired)")
  and a second one with DRIFT_ENABLED=false on the same version, measured one right after the
  other at 16 connections in 2 s points, 6 pairs at 1 row and 2 at 100 rows (the median over
  pairs of their req/s and CPU ratios is shown), and the counting's own CPU time per request:
  `DriftCounts.observe` on the version's reference, the same rows and the server's answers, in
  the harness's process with nothing else of the run going on (best of 5). Its share of the
  server's CPU per request is the target's measure: CPU time barely moves with what else runs
  on the machine, req/s does.
- Shadow mode: a second version of each model is registered from the same logged model and
  put on `bench-candidate` with the tags `python -m training rollout start` writes, in the
  first step (shadow) of a policy; the version is on the alias `bench`. A service with that
  policy (ROLLOUT_POLICY_FILE) and one without, both on `models:/<name>@bench` with
  RELOAD_INTERVAL_SECONDS=1, are started; once the first's /model/info shows the candidate in
  shadow, they are measured one right after the other at 16 connections in 2 s points, 4 pairs
  at 1 row and 2 at 100 rows (medians over pairs). The candidate's calls scored, failed and
  skipped are differences of /metrics scrapes around each shadow point.
"""
