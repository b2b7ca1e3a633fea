"""Everything one benchmark run measured, in the shape the report is written from."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.benchmarks.load_result import LoadResult
from tests.benchmarks.service_stats import ServiceStats

MLFLOW_SERVE = "mlflow models serve"
OURS = "this service"
OURS_UNBATCHED = "this service, BATCH_ENABLED=false"
OURS_SMALL_QUEUE = "this service, QUEUE_MAX_REQUESTS=8"


@dataclass
class Point:
    server: str
    model: str
    rows: int
    concurrency: int
    result: LoadResult | None  # None: skipped to stay within the time budget
    cpu_seconds: float = 0.0  # CPU of the server's process tree during the point
    stats: ServiceStats | None = None  # this service only, from its /metrics

    @property
    def cpu_ms_per_request(self) -> float:
        if self.result is None or not self.result.requests:
            return 0.0
        return self.cpu_seconds / self.result.requests * 1000


@dataclass
class ServerFacts:
    server: str
    model: str
    start_to_ready_seconds: float
    rss_bytes: int = 0
    largest_process_rss_bytes: int = 0


@dataclass
class BenchRun:
    command: str
    date: str
    machine: dict[str, str]
    load_before: str
    load_after: str = ""
    duration_seconds: float = 0.0
    warmup_seconds: float = 0.0
    load_tool: str = "wrk"
    elapsed_seconds: float = 0.0
    points: list[Point] = field(default_factory=list)
    servers: list[ServerFacts] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # library -> (seconds, MiB) it adds to a fresh interpreter, in the service's import order
    imports: dict[str, tuple[float, float]] = field(default_factory=dict)

    def point(self, server: str, model: str, rows: int, concurrency: int) -> Point | None:
        for point in self.points:
            if (point.server, point.model, point.rows, point.concurrency) == (
                server,
                model,
                rows,
                concurrency,
            ) and point.result is not None:
                return point
        return None

    def facts(self, server: str, model: str) -> ServerFacts | None:
        for facts in self.servers:
            if (facts.server, facts.model) == (server, model):
                return facts
        return None
