"""The machinery of a run: the servers it started, the time budget, and one load point."""

from __future__ import annotations

import datetime
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.benchmarks import bench_models, container, machine, service_stats
from tests.benchmarks.contenders import Running
from tests.benchmarks.load_result import LoadResult
from tests.benchmarks.process_tree import tree_cpu_seconds, tree_rss_bytes
from tests.benchmarks.python_load import run_python_load
from tests.benchmarks.results import OURS, BenchRun, Point, ServerFacts
from tests.benchmarks.settings import BenchSettings
from tests.benchmarks.targets import TARGET_ROWS
from tests.benchmarks.v2_request import labels
from tests.benchmarks.wrk_load import run_wrk

INVOCATIONS = "/invocations"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class BenchCore:
    """Settings, the budget's deadline, the servers still running, the results so far."""

    def __init__(
        self, settings: BenchSettings, work: Path, docker: container.Docker | str | None
    ) -> None:
        self.settings = settings
        self.work = work
        self.docker = docker
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
            machine=machine.describe(settings.mlserver),
            load_before=machine.load_average(),
            duration_seconds=settings.duration_seconds,
            warmup_seconds=settings.warmup_seconds,
            load_tool=(
                "wrk, 2 threads" if settings.use_wrk else "asyncio + httpx (wrk not installed)"
            ),
        )
        if isinstance(docker, str):
            self.run.container_skipped = docker
        elif docker is not None:
            self.run.notes.append(
                f"The service image ({docker.image}) was built, from Docker's cache where "
                f"possible, in {docker.build_seconds:.0f} s before the run's clock started."
            )
        self.running: list[Running] = []
        self.warmed: set[tuple[str, str]] = set()

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

    def measure(
        self,
        server: Running,
        model: str,
        rows: int,
        concurrency: int,
        *,
        label: str | None = None,
        path: str = INVOCATIONS,
        body: str | None = None,
        duration: float | None = None,
    ) -> Point:
        """One point: `label` (default: the server's) POSTing `body` to `path`, for `duration`
        seconds (default: the settings')."""
        settings, label = self.settings, label or server.label
        duration = settings.duration_seconds if duration is None else duration
        if not self._fits(settings.warmup_seconds + duration + 2):
            self.run.notes.append(
                f"skipped {label}, {model}, {rows} rows, {concurrency} connections: "
                f"the {settings.budget_seconds:.0f} s budget (BENCH_BUDGET) ran out"
            )
            point = Point(label, model, rows, concurrency, None)
            self.run.points.append(point)
            return point
        url, body = f"{server.url}{path}", body or self.bodies[rows]
        # Once per server, route and body: later points on it start warm anyway.
        if settings.warmup_seconds > 0 and (url, body) not in self.warmed:
            self.drive(url, body, concurrency, settings.warmup_seconds)
            self.warmed.add((url, body))
        ours = server.label.startswith(OURS)
        pid = server.child.process.pid
        stats_before = service_stats.scrape(server.url) if ours else {}
        cpu_before = tree_cpu_seconds(pid)
        result = self.drive(url, body, concurrency, duration)
        cpu = tree_cpu_seconds(pid) - cpu_before
        stats = (
            service_stats.difference(stats_before, service_stats.scrape(server.url))
            if ours
            else None
        )
        point = Point(label, model, rows, concurrency, result, cpu, stats)
        self.run.points.append(point)
        say(
            f"[{self.elapsed():4.0f}s] {model:19} {label:42} rows={rows:<3} "
            f"c={concurrency:<2} {result.requests_per_second:8,.0f} req/s  "
            f"p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms  errors {result.errors}"
        )
        return point

    def same_answers(self, reference: Running, others: list[tuple[Running, str, str]]) -> None:
        """Every server must agree with mlflow on every row, or comparing them is meaningless.
        others: (server, path, body) with the same rows as the reference's body."""
        body = self.bodies[max(self.bodies)]
        expected = self._labels(reference, INVOCATIONS, body)
        for server, path, other_body in others:
            answer = self._labels(server, path, other_body)
            if answer != expected:
                raise RuntimeError(
                    f"{server.label} ({path}) and {reference.label} disagree on the same model "
                    f"version: {json.dumps(answer[:5])} vs {json.dumps(expected[:5])}"
                )

    @staticmethod
    def _labels(server: Running, path: str, body: str) -> list[object]:
        headers = {"Content-Type": "application/json"}
        response = httpx.post(f"{server.url}{path}", content=body, headers=headers, timeout=30)
        response.raise_for_status()
        return labels(response.json())
