"""Everything one benchmark run measured, in the shape the report is written from."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.benchmarks.load_result import LoadResult
from tests.benchmarks.multi_model_results import MultiModelRun
from tests.benchmarks.service_stats import ServiceStats

MLFLOW_SERVE = "mlflow models serve"
OURS = "this service"
# The same process as OURS, sent the Open Inference Protocol (v2) request MLServer gets.
OURS_V2 = "this service, v2 request"
# The variants run the scikit-learn runtime, where batching and the queue apply: an ONNX call
# cheaper than a thread handoff runs on the event loop and is never queued or batched.
OURS_SKLEARN = "this service, MODEL_RUNTIME=sklearn"
OURS_UNBATCHED = "this service, MODEL_RUNTIME=sklearn, BATCH_ENABLED=false"
OURS_SMALL_QUEUE = "this service, MODEL_RUNTIME=sklearn, QUEUE_MAX_REQUESTS=8"
# Drift counting (service/inference/monitoring/drift.py) on, as shipped, and off, on the same
# version (registered with its drift reference, as training registers every version), measured
# in alternation in the same run.
OURS_DRIFT = "this service, drift counting on (paired)"
OURS_NO_DRIFT = "this service, DRIFT_ENABLED=false (paired)"
# Shadow mode (service/inference/rollout/shadow.py): the same version behind an alias, once with a
# rollout policy and a second version of the model in its shadow step, once without a policy,
# measured in alternation in the same run.
OURS_SHADOW = "this service, candidate in shadow (paired)"
OURS_NO_SHADOW = "this service, no rollout policy (paired)"
# uvicorn configured as this service runs it, answering the service's own bytes and doing
# nothing else (http_floor.py): what the HTTP stack alone costs, in the same run.
HTTP_FLOOR = "HTTP floor (uvicorn, fixed answer)"
MLSERVER = "MLServer"  # every MLServer configuration's label starts with this
DEFAULT_RUNTIME = "sklearn"  # what /model/info without a `runtime` key means


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

    @property
    def requests_per_second(self) -> float:
        return self.result.requests_per_second if self.result else 0.0


@dataclass
class ServerFacts:
    server: str
    model: str
    start_to_ready_seconds: float
    rss_bytes: int = 0
    largest_process_rss_bytes: int = 0


@dataclass(frozen=True)
class ContainerFacts:
    """The service's image on one model version: from `docker run` to /ready, and memory."""

    model: str
    start_to_ready_seconds: float
    memory_bytes: int  # `docker stats` MemUsage after the warm-up
    image: str
    image_bytes: int = 0  # `docker image inspect` Size


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
    # model -> the runtime this service reported in GET /model/info
    runtimes: dict[str, str] = field(default_factory=dict)
    # How OURS_V2 was sent: the v2 infer route, or /predict while the service had no v2 API.
    ours_v2_request: str = ""
    # MLServer configuration label -> what it sets (settings.json / model-settings.json)
    mlserver_configs: dict[str, str] = field(default_factory=dict)
    # model -> seconds the harness took to download the version for MLServer
    mlserver_download_seconds: dict[str, float] = field(default_factory=dict)
    containers: list[ContainerFacts] = field(default_factory=list)
    # Why the container was not measured (empty when it was, or was not tried yet).
    container_skipped: str = ""
    # model -> rows per request -> CPU seconds drift counting takes for one request
    # (drift_counting.py), to set against the server's CPU per request.
    drift_counting_seconds: dict[str, dict[int, float]] = field(default_factory=dict)
    # model -> the load average (1/5/15 min) when its shadow pairs began: they are compared
    # within seconds of each other, but the level says how noisy the machine was.
    shadow_load: dict[str, str] = field(default_factory=dict)
    # The multi-model section (multi_model.py); None when it did not run.
    multi_model: MultiModelRun | None = None

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

    def points_of(self, server: str, model: str, rows: int, concurrency: int) -> list[Point]:
        """Every measured point of a server at this load (paired variants repeat points)."""
        return [
            p
            for p in self.points
            if (p.server, p.model, p.rows, p.concurrency) == (server, model, rows, concurrency)
            and p.result is not None
        ]

    def pairs(
        self, variant: str, reference: str, model: str, rows: int, concurrency: int
    ) -> list[tuple[Point, Point]]:
        """The n-th point of `variant` with the n-th of `reference`, measured one right after
        the other at this load; a pair whose reference answered nothing is left out."""
        found = zip(
            self.points_of(variant, model, rows, concurrency),
            self.points_of(reference, model, rows, concurrency),
            strict=False,
        )
        return [(a, b) for a, b in found if b.requests_per_second]

    def facts(self, server: str, model: str) -> ServerFacts | None:
        for facts in self.servers:
            if (facts.server, facts.model) == (server, model):
                return facts
        return None

    def runtime(self, model: str) -> str:
        return self.runtimes.get(model) or DEFAULT_RUNTIME

    def best_mlserver(self, model: str, rows: int, concurrency: int) -> Point | None:
        """The MLServer configuration with the most req/s at this point, if any was measured."""
        measured = [
            p
            for p in self.points
            if p.server.startswith(MLSERVER)
            and (p.model, p.rows, p.concurrency) == (model, rows, concurrency)
            and p.result is not None
        ]
        return max(measured, key=lambda p: p.requests_per_second, default=None)
