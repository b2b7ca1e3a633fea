"""The report's headline: this service against each peer at the target point, and the
random forest at 1 connection; plus the MLServer configurations and the container."""

from __future__ import annotations

from collections.abc import Sequence

from tests.benchmarks.results import (
    MLFLOW_SERVE,
    MLSERVER,
    OURS,
    OURS_V2,
    BenchRun,
    Point,
    ServerFacts,
)
from tests.benchmarks.tables import MIB, ms, rate, ratio, table
from tests.benchmarks.targets import (
    MAX_P50_ONE_CONNECTION_MS,
    TARGET_CONCURRENCY,
    TARGET_ROWS,
)


def ours_request(run: BenchRun) -> str:
    if run.ours_v2_request.startswith("POST /v2"):
        return "v2"
    return "/predict (no v2 API yet)" if run.ours_v2_request else "-"


def _peers(run: BenchRun, model: str, concurrency: int) -> list[tuple[Point | None, str, str]]:
    """(point, server label, request) of every server at this point, this service first."""
    found: list[tuple[Point | None, str, str]] = [
        (
            run.point(OURS_V2, model, TARGET_ROWS, concurrency),
            f"{OURS} (runtime {run.runtime(model)})",
            ours_request(run),
        ),
        (
            run.point(MLFLOW_SERVE, model, TARGET_ROWS, concurrency),
            MLFLOW_SERVE,
            "dataframe_split",
        ),
    ]
    # "best" is MLServer's best at the target point, where all its configurations run.
    best = run.best_mlserver(model, TARGET_ROWS, TARGET_CONCURRENCY)
    labels = dict.fromkeys(
        p.server for p in run.points if p.server.startswith(MLSERVER) and p.model == model
    )
    for label in labels:
        point = run.point(label, model, TARGET_ROWS, concurrency)
        if point is not None:
            is_best = best is not None and best.server == label
            shown = f"{label} (best)" if is_best else label
            found.append((point, shown, "v2"))
    return found


def _facts_cells(facts: ServerFacts | None) -> list[str]:
    if facts is None:
        return ["-", "-"]
    rss = f"{facts.rss_bytes / MIB:.0f}" if facts.rss_bytes else "-"
    return [rss, f"{facts.start_to_ready_seconds:.1f}"]


def headline(run: BenchRun, models: Sequence[str]) -> str:
    rows = []
    for model in models:
        peers = _peers(run, model, TARGET_CONCURRENCY)
        ours = peers[0][0]
        for index, (point, label, request) in enumerate(peers):
            server = OURS if index == 0 else label.removesuffix(" (best)")
            result = point.result if point else None
            rows.append(
                [
                    model,
                    label,
                    request,
                    rate(point),
                    ms(result.p50_ms) if result else "-",
                    ms(result.p99_ms) if result else "-",
                    *_facts_cells(run.facts(server, model)),
                    "-" if index == 0 else ratio(ours, point),
                ]
            )
    return table(
        [
            "model",
            "server",
            "request",
            "req/s",
            "p50 ms",
            "p99 ms",
            "RSS after warm-up, process tree MiB",
            "start -> ready s",
            "this service's throughput ratio",
        ],
        rows,
    )


def _share(ours: float | None, theirs: float | None) -> str:
    if not ours or not theirs:
        return "-"
    return f"{ours / theirs:.2f}x" if ours / theirs < 10 else f"{ours / theirs:.0f}x"


def ratios(run: BenchRun, models: Sequence[str]) -> str:
    """This service / mlflow and / MLServer's best: req/s, p50, p99, RSS, start -> ready."""
    rows = []
    for model in models:
        ours = run.point(OURS_V2, model, TARGET_ROWS, TARGET_CONCURRENCY)
        mine = run.facts(OURS, model)
        peers = [
            run.point(MLFLOW_SERVE, model, TARGET_ROWS, TARGET_CONCURRENCY),
            run.best_mlserver(model, TARGET_ROWS, TARGET_CONCURRENCY),
        ]
        for theirs in peers:
            if ours is None or ours.result is None or theirs is None or theirs.result is None:
                continue
            facts = run.facts(theirs.server, model)
            rows.append(
                [
                    model,
                    theirs.server,
                    _share(ours.requests_per_second, theirs.requests_per_second),
                    _share(ours.result.p50_ms, theirs.result.p50_ms),
                    _share(ours.result.p99_ms, theirs.result.p99_ms),
                    _share(mine.rss_bytes if mine else None, facts.rss_bytes if facts else None),
                    _share(
                        mine.start_to_ready_seconds if mine else None,
                        facts.start_to_ready_seconds if facts else None,
                    ),
                ]
            )
    if not rows:
        return "Not measured in this run."
    return table(
        ["model", "peer", "req/s", "p50", "p99", "RSS after warm-up", "start -> ready"], rows
    )


def single_connection(run: BenchRun, models: Sequence[str]) -> str:
    rows = []
    for model in (m for m in models if m in MAX_P50_ONE_CONNECTION_MS):
        for point, label, request in _peers(run, model, 1):
            if point is None or point.result is None:
                continue
            result = point.result
            rows.append([model, label, request, ms(result.p50_ms), ms(result.p99_ms), rate(point)])
    if not rows:
        return "Not measured in this run."
    return table(["model", "server", "request", "p50 ms", "p99 ms", "req/s"], rows)


def mlserver_configs(run: BenchRun) -> str:
    if not run.mlserver_configs:
        return "MLServer was not measured in this run (see the notes)."
    downloads = ", ".join(
        f"{model} {seconds:.1f} s" for model, seconds in run.mlserver_download_seconds.items()
    )
    return (
        table(
            ["configuration", "settings"],
            [[label, settings] for label, settings in run.mlserver_configs.items()],
        )
        + "\n\nMLServer reads the version's `model.pkl` from a folder the harness downloaded "
        f"with MLflow's client before starting it ({downloads}); its start -> ready does not "
        "include that download, while this service's and mlflow's do."
    )


def containers(run: BenchRun) -> str:
    if not run.containers:
        return f"Not measured ({run.container_skipped or 'not reached in this run'})."
    return table(
        [
            "model",
            "image",
            "image MB",
            "runtime",
            "docker run -> /ready s",
            "memory after warm-up MiB",
        ],
        [
            [
                c.model,
                c.image,
                f"{c.image_bytes / 1e6:.1f}" if c.image_bytes else "-",
                run.runtime(c.model),
                f"{c.start_to_ready_seconds:.1f}",
                f"{c.memory_bytes / MIB:.0f}",
            ]
            for c in run.containers
        ],
    )
