"""The multi-model section: many models in one service, from a models.yaml, in the same run.

The same registered versions are served by this service with a models.yaml of one model and
with one of every model: start -> ready, RSS once every model has answered, and throughput on
the first model's v2 route with 1 and with every model loaded, in alternating pairs. Then a
third service with every model polls the registry each second while two models are under load
and one model's alias moves to a new version. MLServer serves the same versions with its
multi-model serving, with 1 model and with every model (mlserver_fleet.py)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.benchmarks import fleet_models
from tests.benchmarks.bench_core import BenchCore, say
from tests.benchmarks.bench_models import register_candidate
from tests.benchmarks.contenders import Running, start_ours
from tests.benchmarks.mlserver_fleet import CONFIG, start_mlserver_fleet
from tests.benchmarks.mlserver_peer import download
from tests.benchmarks.multi_model_results import (
    FLEET_ALL,
    FLEET_ONE,
    FLEET_SWAP,
    MLSERVER_ALL,
    MLSERVER_ONE,
    SECTION,
    FleetServer,
    MultiModelRun,
    SwapFacts,
)
from tests.benchmarks.process_tree import tree_cpu_seconds
from tests.benchmarks.targets import TARGET_CONCURRENCY, TARGET_ROWS
from tests.support.servers import write_models_file
from training.local_platform.registry_server import RegistryServer
from training.rollout.mlflow_rest import MlflowRest

ALIAS = "bench"
# 1 model / every model, alternating: the machine's background load moves req/s by more than
# the effect sought within seconds, so short pairs and the median of their ratios.
THROUGHPUT_PAIRS = 7
PAIR_POINT_SECONDS = 2.0
# Each model answers this many requests before RSS is read, so every slot has run its first
# predictions (its drift counters, metric children and session buffers exist).
WARM_REQUESTS = 5
# The swap: RELOAD_INTERVAL_SECONDS of the swapping service, load per model, how long after
# the load starts the alias moves, and the load's length (covers the poll and the load of the
# new version).
SWAP_RELOAD_SECONDS = "1"
SWAP_CONNECTIONS = 8
SWAP_AFTER_SECONDS = 1.0
SWAP_LOAD_SECONDS = 8.0
SWAP_TIMEOUT_SECONDS = 30.0
# Registering every model, five server starts, the pairs, the swap and MLServer's downloads,
# for the time budget (about 135 s on 2 busy shared cores).
SECTION_ALLOWANCE_SECONDS = 150.0


def start_with_models_file(
    label: str, tracking_uri: str, models_file: Path, log_dir: Path, extra: dict[str, str]
) -> Running:
    """This service serving what `models_file` declares. An empty MODEL_URI counts as unset
    (service/inference/settings.py), so MODELS_FILE alone says what to serve."""
    return start_ours(label, tracking_uri, "", log_dir, {"MODELS_FILE": str(models_file), **extra})


def v2_answer(url: str, model: fleet_models.FleetModel) -> dict[str, object]:
    response = httpx.post(
        f"{url}/v2/models/{model.name}/infer",
        content=fleet_models.v2_body(model.index),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    response.raise_for_status()
    return dict(response.json())


class MultiModelPhase(BenchCore):
    """The section's steps, on the run's servers, budget and load generator."""

    def reserve_multi_model(self) -> None:
        """Keep the section's time out of the budget the phases before it see: on a busy
        machine they would use it all, and it runs last."""
        self.deadline -= SECTION_ALLOWANCE_SECONDS

    def multi_model(self, registry: RegistryServer) -> None:
        self.deadline += SECTION_ALLOWANCE_SECONDS  # what reserve_multi_model kept back
        if not self._fits(SECTION_ALLOWANCE_SECONDS):
            self.run.notes.append("skipped the multi-model section: the budget ran out")
            return
        facts = MultiModelRun(self.settings.fleet_size)
        self.run.multi_model = facts
        try:
            self._multi_model_steps(registry, facts)
        except (RuntimeError, httpx.HTTPError) as why:  # a server that failed: report the rest
            tail = " ".join(str(why).split())[-600:]
            facts.notes.append(f"the section stopped early: {tail}")

    def _multi_model_steps(self, registry: RegistryServer, facts: MultiModelRun) -> None:
        tracking_uri, size = registry.url, facts.size
        started = time.perf_counter()
        fleet = fleet_models.register_fleet(tracking_uri, size, ALIAS)
        facts.registration_seconds = time.perf_counter() - started
        seconds = facts.registration_seconds
        say(f"[{self.elapsed():4.0f}s] registered {size} models in {seconds:.0f} s")
        folder = self.work / "multi-model"
        entries = [{"name": m.name, "alias": ALIAS} for m in fleet]
        one_file = write_models_file(folder / "one", entries[0])
        all_file = write_models_file(folder / "all", *entries)
        log_dir = self.work / "logs"
        one, one_facts = self._start_counted(
            lambda: start_with_models_file(FLEET_ONE, tracking_uri, one_file, log_dir, {}),
            registry,
        )
        every, every_facts = self._start_counted(
            lambda: start_with_models_file(FLEET_ALL, tracking_uri, all_file, log_dir, {}),
            registry,
        )
        one_loaded = self._loaded_at(one, fleet[:1], facts)
        every_loaded = self._loaded_at(every, fleet, facts)
        self._warm(one, fleet[:1])
        self._warm(every, fleet)
        self._throughput_pairs(one, every, fleet[0])
        facts.throughput_model = fleet[0].name
        for server, count, (started_at, cpu, registry_cpu), loaded in (
            (one, 1, one_facts, one_loaded),
            (every, size, every_facts, every_loaded),
        ):
            facts.ours.append(
                dataclasses.replace(
                    self._fleet_server(server, count),
                    first_loaded_seconds=min(loaded) - started_at,
                    last_loaded_seconds=max(loaded) - started_at,
                    cpu_seconds=cpu,
                    registry_cpu_seconds=registry_cpu,
                )
            )
        self._stop(one)
        self._stop(every)
        self._swap_under_load(tracking_uri, all_file, fleet, facts)
        self._mlserver(tracking_uri, fleet, facts)

    def _start_counted(
        self, starter: Callable[[], Running], registry: RegistryServer
    ) -> tuple[Running, tuple[float, float, float]]:
        """Start a server; with (epoch seconds at its start, its CPU seconds until ready, the
        MLflow server's CPU seconds meanwhile)."""
        registry_pid = registry.child.process.pid
        registry_before = tree_cpu_seconds(registry_pid)
        started_at = time.time()
        server = self._start(starter, SECTION)
        cpu = tree_cpu_seconds(server.child.process.pid)
        return server, (started_at, cpu, tree_cpu_seconds(registry_pid) - registry_before)

    def _fleet_server(self, server: Running, models: int) -> FleetServer:
        """Start -> ready and RSS now (summed over the process tree, as for every server)."""
        self._record_memory(server, SECTION)
        recorded = self.run.facts(server.label, SECTION)
        rss = recorded.rss_bytes if recorded is not None else 0
        return FleetServer(server.label, models, server.start_to_ready_seconds, rss)

    def _warm(self, server: Running, fleet: list[fleet_models.FleetModel]) -> None:
        for model in fleet:
            for _ in range(WARM_REQUESTS):
                v2_answer(server.url, model)

    @staticmethod
    def _loaded_at(
        server: Running, fleet: list[fleet_models.FleetModel], facts: MultiModelRun
    ) -> list[float]:
        """When each model's version was loaded (epoch seconds); on the way, which runtime
        answers each model and what loading each version measured (both recorded in `facts`,
        the last server's figures winning)."""
        counts: dict[str, int] = {}
        loaded = []
        for model in fleet:
            info = httpx.get(f"{server.url}/models/{model.name}/info", timeout=10).json()
            loaded.append(float(info["loaded_at"]))
            runtime = str(info.get("runtime") or "sklearn")
            counts[runtime] = counts.get(runtime, 0) + 1
            measured = (info.get("resources") or {}).get("measured_bytes")
            if measured is not None:
                facts.measured_model_bytes[model.name] = int(measured)
        facts.runtimes = counts
        return loaded

    def _throughput_pairs(
        self, one: Running, every: Running, model: fleet_models.FleetModel
    ) -> None:
        path, body = f"/v2/models/{model.name}/infer", fleet_models.v2_body(model.index)
        for number in range(THROUGHPUT_PAIRS):
            # Which goes first alternates, so a trend in the machine's load favours neither.
            for server in (one, every) if number % 2 == 0 else (every, one):
                self.measure(
                    server,
                    model.name,
                    TARGET_ROWS,
                    TARGET_CONCURRENCY,
                    path=path,
                    body=body,
                    duration=PAIR_POINT_SECONDS,
                )

    def _swap_under_load(
        self,
        tracking_uri: str,
        models_file: Path,
        fleet: list[fleet_models.FleetModel],
        facts: MultiModelRun,
    ) -> None:
        """Load on two models; the first one's alias moves to a new version meanwhile."""
        swapped, other = fleet[0], fleet[1]
        server = self._start(
            lambda: start_with_models_file(
                FLEET_SWAP,
                tracking_uri,
                models_file,
                self.work / "logs",
                {"RELOAD_INTERVAL_SECONDS": SWAP_RELOAD_SECONDS},
            ),
            SECTION,
        )
        try:
            new = register_candidate(tracking_uri, swapped.registered)
            with ThreadPoolExecutor(max_workers=2) as pool:
                loads = [
                    pool.submit(
                        self.drive,
                        f"{server.url}/v2/models/{m.name}/infer",
                        fleet_models.v2_body(m.index),
                        SWAP_CONNECTIONS,
                        SWAP_LOAD_SECONDS,
                    )
                    for m in (swapped, other)
                ]
                time.sleep(SWAP_AFTER_SECONDS)
                MlflowRest(tracking_uri).set_alias(swapped.name, ALIAS, new.version)
                moved = time.perf_counter()
                seconds = self._served(server, swapped.name, new.version)
                swap_seconds = None if seconds is None else seconds - moved
                swapped_load, other_load = (load.result() for load in loads)
            answered = str(v2_answer(server.url, swapped).get("model_version", ""))
            facts.swap = SwapFacts(
                swapped.name,
                other.name,
                swapped.registered.version,
                new.version,
                swap_seconds,
                answered,
                swapped_load,
                other_load,
                SWAP_CONNECTIONS,
            )
            say(
                f"[{self.elapsed():4.0f}s] swap of {swapped.name} to v{new.version}: "
                f"{swap_seconds if swap_seconds is None else round(swap_seconds, 1)} s, errors "
                f"{swapped_load.errors} / {other_load.errors}"
            )
        finally:
            self._stop(server)

    @staticmethod
    def _served(server: Running, name: str, version: str) -> float | None:
        """perf_counter when /models/<name>/info names `version`; None after the timeout."""
        deadline = time.monotonic() + SWAP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            info = httpx.get(f"{server.url}/models/{name}/info", timeout=10).json()
            if info.get("version") == version:
                return time.perf_counter()
            time.sleep(0.05)
        return None

    def _mlserver(
        self, tracking_uri: str, fleet: list[fleet_models.FleetModel], facts: MultiModelRun
    ) -> None:
        """MLServer's multi-model serving of the same versions' model.pkl, 1 and every model."""
        executable = self.settings.mlserver
        if executable is None or not executable.is_file():
            facts.notes.append(f"MLServer not measured: {executable or 'BENCH_MLSERVER=off'}")
            return
        facts.mlserver_setup = (
            f"mlserver-sklearn on each version's model.pkl (MLServer's venv has no ONNX runtime); "
            f"{CONFIG.describe()}"
        )
        models = [
            (
                m.name,
                m.registered.version,
                download(tracking_uri, m.registered.uri, self.work / "mlserver-fleet" / m.name),
            )
            for m in fleet
        ]
        for label, chosen in ((MLSERVER_ONE, models[:1]), (MLSERVER_ALL, models)):
            try:
                server = self._start(
                    lambda label=label, chosen=chosen: start_mlserver_fleet(
                        executable, label, chosen, self.work
                    ),
                    SECTION,
                )
            except RuntimeError as why:  # its log tail: a broken venv must not end the run
                facts.notes.append(f"{label} did not start: {' '.join(str(why).split())[-600:]}")
                continue
            try:
                self._warm(server, fleet[: len(chosen)])
                facts.mlserver.append(self._fleet_server(server, len(chosen)))
            except httpx.HTTPError as why:
                facts.notes.append(f"{label} did not answer: {why}")
            finally:
                self._stop(server)
