"""One benchmark run: registry, models, both servers, every load point, then the report."""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.benchmarks import bench_models, machine, service_stats
from tests.benchmarks.contenders import Running, start_mlflow_serve, start_ours
from tests.benchmarks.load_result import LoadResult
from tests.benchmarks.process_tree import tree_cpu_seconds, tree_rss_bytes
from tests.benchmarks.python_load import run_python_load
from tests.benchmarks.results import (
    MLFLOW_SERVE,
    OURS,
    OURS_SMALL_QUEUE,
    OURS_UNBATCHED,
    BenchRun,
    Point,
    ServerFacts,
)
from tests.benchmarks.settings import BenchSettings
from tests.benchmarks.startup_profile import import_costs
from tests.benchmarks.targets import TARGET_CONCURRENCY, TARGET_ROWS
from tests.benchmarks.wrk_load import run_wrk
from tests.support.servers import free_port
from training import registry_server

OVERLOAD_CONCURRENCY = 64
OVERLOAD_QUEUE = "8"
# Starting a server and its checks, on top of the load points, for the time budget.
SERVER_START_ALLOWANCE_SECONDS = 15.0


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, settings: BenchSettings, work: Path) -> None:
        self.settings = settings
        self.work = work
        self.started = time.monotonic()
        self.deadline = self.started + settings.budget_seconds
        self.drive: Callable[[str, str, int, float], LoadResult] = (
            run_wrk if settings.use_wrk else run_python_load
        )
        self.bodies = {rows: bench_models.invocations_body(rows) for rows in settings.payload_rows}
        self.bodies.setdefault(TARGET_ROWS, bench_models.invocations_body(TARGET_ROWS))
        self.run = BenchRun(
            command="make bench",
            date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            machine=machine.describe(),
            load_before=machine.load_average(),
            duration_seconds=settings.duration_seconds,
            warmup_seconds=settings.warmup_seconds,
            load_tool=(
                "wrk, 2 threads" if settings.use_wrk else "asyncio + httpx (wrk not installed)"
            ),
        )
        self.running: list[Running] = []
        self.warmed: set[tuple[str, int]] = set()

    # -- servers ------------------------------------------------------------------------------

    def _start(self, starter: Callable[[], Running], model: str) -> Running:
        server = starter()
        self.running.append(server)
        say(
            f"[{self.elapsed():4.0f}s] {server.label} ({model}) ready in "
            f"{server.start_to_ready_seconds:.1f} s"
        )
        self.run.servers.append(ServerFacts(server.label, model, server.start_to_ready_seconds))
        return server

    def _stop(self, server: Running) -> None:
        server.stop()
        self.running.remove(server)

    def stop_all(self) -> None:
        for server in list(self.running):
            self._stop(server)

    def _record_memory(self, server: Running, model: str) -> None:
        facts = self.run.facts(server.label, model)
        if facts is not None:
            facts.rss_bytes, facts.largest_process_rss_bytes = tree_rss_bytes(
                server.child.process.pid
            )

    # -- load ---------------------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _fits(self, seconds: float) -> bool:
        return time.monotonic() + seconds < self.deadline

    def measure(self, server: Running, model: str, rows: int, concurrency: int) -> Point:
        settings = self.settings
        if not self._fits(settings.warmup_seconds + settings.duration_seconds + 2):
            self.run.notes.append(
                f"skipped {server.label}, {model}, {rows} rows, {concurrency} connections: "
                f"the {settings.budget_seconds:.0f} s budget (BENCH_BUDGET) ran out"
            )
            point = Point(server.label, model, rows, concurrency, None)
            self.run.points.append(point)
            return point
        body = self.bodies[rows]
        # Once per server and body: later points on it start warm anyway.
        if settings.warmup_seconds > 0 and (server.url, rows) not in self.warmed:
            self.drive(server.invocations, body, concurrency, settings.warmup_seconds)
            self.warmed.add((server.url, rows))
        ours = server.label != MLFLOW_SERVE
        pid = server.child.process.pid
        stats_before = service_stats.scrape(server.url) if ours else {}
        cpu_before = tree_cpu_seconds(pid)
        result = self.drive(server.invocations, body, concurrency, settings.duration_seconds)
        cpu = tree_cpu_seconds(pid) - cpu_before
        stats = (
            service_stats.difference(stats_before, service_stats.scrape(server.url))
            if ours
            else None
        )
        point = Point(server.label, model, rows, concurrency, result, cpu, stats)
        self.run.points.append(point)
        say(
            f"[{self.elapsed():4.0f}s] {model:19} {server.label:36} rows={rows:<3} "
            f"c={concurrency:<2} {result.requests_per_second:8,.0f} req/s  "
            f"p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms  errors {result.errors}"
        )
        return point

    def same_answers(self, first: Running, second: Running) -> None:
        """Both servers must agree on every row, or the comparison would be meaningless."""
        body = self.bodies[max(self.bodies)]
        answers = []
        for server in (first, second):
            response = httpx.post(
                server.invocations,
                content=body,
                headers={"Content-Type": "application/json"},
                timeout=30,
            )
            response.raise_for_status()
            answers.append(response.json()["predictions"])
        if answers[0] != answers[1]:
            raise RuntimeError(
                f"{first.label} and {second.label} disagree on the same model version: "
                f"{json.dumps(answers[0][:5])} vs {json.dumps(answers[1][:5])}"
            )

    # -- phases -------------------------------------------------------------------------------

    def execute(self, registry_env: dict[str, str]) -> BenchRun:
        settings = self.settings
        # First, while nothing else of this run competes for the CPU.
        self.run.imports = import_costs()
        say(f"[{self.elapsed():4.0f}s] import costs measured")
        registry = registry_server.start(self.work / "mlflow", free_port(), env=registry_env)
        try:
            say(f"[{self.elapsed():4.0f}s] MLflow server at {registry.url}")
            uris = {m: bench_models.register(registry.url, m) for m in settings.models}
            say(f"[{self.elapsed():4.0f}s] registered {', '.join(uris.values())}")
            ours = {m: self.compare(registry.url, m, uris[m]) for m in settings.models}
            for model, server in ours.items():
                for concurrency in settings.sweep_concurrency:
                    if concurrency not in settings.comparison_concurrency:
                        self.measure(server, model, TARGET_ROWS, concurrency)
                self._stop(server)
            self.variants(registry.url, uris)
        finally:
            self.stop_all()
            registry.stop()
        self.run.load_after = machine.load_average()
        busiest = max(os.getloadavg()[0], float(self.run.load_before.split(" / ")[0]))
        cores = os.cpu_count() or 1
        if busiest > cores / 2:
            self.run.notes.append(
                f"The machine was shared and busy (1-minute load up to {busiest:.1f} on {cores} "
                "cores): absolute figures are lower and noisier than on an idle machine. Both "
                "servers ran interleaved under the same conditions, so the ratios still hold."
            )
        self.run.elapsed_seconds = self.elapsed()
        return self.run

    def compare(self, tracking_uri: str, model: str, uri: str) -> Running:
        """Both servers on one model: start, agree, every comparison point, memory."""
        log_dir = self.work / "logs"
        theirs = self._start(
            lambda: start_mlflow_serve(MLFLOW_SERVE, tracking_uri, uri, log_dir), model
        )
        ours = self._start(lambda: start_ours(OURS, tracking_uri, uri, log_dir, {}), model)
        self.same_answers(theirs, ours)
        for rows in self.settings.payload_rows:
            for concurrency in self.settings.comparison_concurrency:
                # Interleaved, so drift in the machine's background load hits both alike.
                self.measure(theirs, model, rows, concurrency)
                self.measure(ours, model, rows, concurrency)
        self._record_memory(theirs, model)
        self._record_memory(ours, model)
        self._stop(theirs)
        return ours

    def variants(self, tracking_uri: str, uris: dict[str, str]) -> None:
        """Batching off at the target point; a tiny queue under 64 connections (overload)."""
        log_dir = self.work / "logs"
        per_server = self.settings.warmup_seconds + self.settings.duration_seconds
        # The slowest model first: it is where batching and overload matter most, and the
        # last plans are the first to be dropped when the time budget runs out.
        models = sorted(uris, key=lambda m: m != "random_forest")
        unbatched = {"BATCH_ENABLED": "false"}
        small_queue = {"QUEUE_MAX_REQUESTS": OVERLOAD_QUEUE}
        plans = [
            (OURS_UNBATCHED, models[0], unbatched, TARGET_CONCURRENCY),
            (OURS_SMALL_QUEUE, models[0], small_queue, OVERLOAD_CONCURRENCY),
            *((OURS_UNBATCHED, m, unbatched, TARGET_CONCURRENCY) for m in models[1:]),
        ]
        for label, model, extra, concurrency in plans:
            if not self._fits(per_server + SERVER_START_ALLOWANCE_SECONDS):
                self.run.notes.append(
                    f"skipped {label} ({model}): the {self.settings.budget_seconds:.0f} s budget "
                    "(BENCH_BUDGET) ran out"
                )
                continue
            server = self._start(
                lambda label=label, model=model, extra=extra: start_ours(
                    label, tracking_uri, uris[model], log_dir, extra
                ),
                model,
            )
            self.measure(server, model, TARGET_ROWS, concurrency)
            if label == OURS_SMALL_QUEUE:
                self.run.notes.append(self.overload_probe(server, concurrency))
            self._stop(server)

    def overload_probe(self, server: Running, concurrency: int) -> str:
        """A burst beyond the queue: every refusal must be a 503 carrying Retry-After."""

        async def burst() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=concurrency)
            async with httpx.AsyncClient(limits=limits, timeout=30) as client:
                return await asyncio.gather(
                    *(
                        client.post(
                            server.invocations,
                            content=self.bodies[TARGET_ROWS],
                            headers={"Content-Type": "application/json"},
                        )
                        for _ in range(concurrency)
                    )
                )

        responses = asyncio.run(burst())
        refused = [r for r in responses if r.status_code == 503]
        with_retry = [r for r in refused if r.headers.get("retry-after")]
        others = sorted({r.status_code for r in responses} - {200, 503})
        return (
            f"Overload probe ({server.label}): a burst of {concurrency} concurrent requests got "
            f"{len(responses) - len(refused)} answers and {len(refused)} refusals (503), "
            f"{len(with_retry)} of them with Retry-After"
            + (f"; unexpected statuses {others}" if others else "")
            + "."
        )


def registry_env() -> dict[str, str]:
    """The caller's environment without S3 settings: the run keeps artifacts on local disk."""
    return {
        key: value
        for key, value in os.environ.items()
        if key not in ("MLFLOW_S3_ENDPOINT_URL", "MLFLOW_TRACKING_URI")
    }


def run_bench(settings: BenchSettings) -> BenchRun:
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        bench = Bench(settings, Path(folder))
        try:
            return bench.execute(registry_env())
        finally:
            bench.stop_all()
