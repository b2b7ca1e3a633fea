"""What the multi-model section measured: one service serving many models from a models.yaml
against the same service with one, a swap under load, and MLServer's multi-model serving of
the same models (tests/benchmarks/multi_model.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.benchmarks.load_result import LoadResult

# Labels of the points and servers of the section (BenchRun.points / servers); `model` of
# those rows is the measured model's name (throughput) or SECTION (servers).
SECTION = "multi-model"
FLEET_ONE = "this service, models.yaml with 1 model"
FLEET_ALL = "this service, models.yaml with every model"
FLEET_SWAP = "this service, models.yaml with every model, RELOAD_INTERVAL_SECONDS=1"
MLSERVER_ONE = "MLServer multi-model, 1 model"
MLSERVER_ALL = "MLServer multi-model, every model"


@dataclass(frozen=True)
class FleetServer:
    """One server holding `models` models: start -> ready and RSS after every model answered."""

    label: str
    models: int
    start_to_ready_seconds: float
    rss_bytes: int = 0
    # From process start until the first and the last of its models was loaded (each
    # version's `loaded_at`, GET /models/<name>/info): imports and the first load, then the
    # rest; this service only.
    first_loaded_seconds: float | None = None
    last_loaded_seconds: float | None = None
    # CPU seconds from process start to ready: this service's process tree, and the run's
    # MLflow server answering its resolves and downloads (this service only).
    cpu_seconds: float | None = None
    registry_cpu_seconds: float | None = None


@dataclass(frozen=True)
class SwapFacts:
    """One model's alias moved while both it and another model were under load."""

    model: str
    other: str
    old_version: str
    new_version: str
    # From the alias move until /models/<name>/info named the new version; None: not seen.
    swap_seconds: float | None
    # model_version of a v2 answer of the swapped model after the swap.
    answered_version: str
    swapped_load: LoadResult
    other_load: LoadResult
    connections: int  # per model


@dataclass
class MultiModelRun:
    size: int  # models in the full models.yaml
    registration_seconds: float = 0.0
    # runtime (GET /models/<name>/info "runtime") -> how many of the models it answers
    runtimes: dict[str, int] = field(default_factory=dict)
    ours: list[FleetServer] = field(default_factory=list)
    mlserver: list[FleetServer] = field(default_factory=list)
    mlserver_setup: str = ""  # what MLServer was configured with, and which artifact it loads
    # model -> what the service measured loading its version (inference_model_memory_bytes)
    measured_model_bytes: dict[str, int] = field(default_factory=dict)
    throughput_model: str = ""  # the model whose /v2/models/<name>/infer carries the pairs
    swap: SwapFacts | None = None
    notes: list[str] = field(default_factory=list)

    @staticmethod
    def _by_count(servers: list[FleetServer], models: int) -> FleetServer | None:
        return next((s for s in servers if s.models == models), None)

    def ours_with(self, models: int) -> FleetServer | None:
        return self._by_count(self.ours, models)

    def mlserver_with(self, models: int) -> FleetServer | None:
        return self._by_count(self.mlserver, models)


def rss_per_added_model(one: FleetServer | None, many: FleetServer | None) -> float | None:
    """(RSS with n models - RSS with 1) / (n - 1), in bytes; None when either is missing."""
    if one is None or many is None or many.models <= 1 or not one.rss_bytes or not many.rss_bytes:
        return None
    return (many.rss_bytes - one.rss_bytes) / (many.models - 1)
