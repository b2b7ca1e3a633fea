"""One benchmark run: registry, models, every server, every load point, then the report."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import httpx

from tests.benchmarks import bench_models, container, drift_counting, floor_routes, machine
from tests.benchmarks.bench_core import INVOCATIONS, say
from tests.benchmarks.contenders import Running, start_mlflow_serve, start_ours
from tests.benchmarks.http_floor import start_floor
from tests.benchmarks.mlserver_peer import CONFIGS, MLServerConfig, download, start_mlserver
from tests.benchmarks.multi_model import MultiModelPhase
from tests.benchmarks.overload import overload_probe
from tests.benchmarks.results import (
    HTTP_FLOOR,
    MLFLOW_SERVE,
    OURS,
    OURS_DRIFT,
    OURS_NO_DRIFT,
    OURS_NO_SHADOW,
    OURS_SHADOW,
    OURS_SKLEARN,
    OURS_SMALL_QUEUE,
    OURS_UNBATCHED,
    OURS_V2,
    BenchRun,
)
from tests.benchmarks.settings import BenchSettings
from tests.benchmarks.startup_profile import import_costs
from tests.benchmarks.targets import TARGET_CONCURRENCY, TARGET_ROWS
from tests.benchmarks.v2_request import Request, our_request, v2_body, v2_infer
from tests.support.rollouts import policy_document, put_candidate, write_policy
from tests.support.servers import free_port
from training.local_platform import registry_server
from training.rollout.mlflow_rest import MlflowRest

OVERLOAD_CONCURRENCY = 64
OVERLOAD_QUEUE = "8"
# Starting a server and its checks, on top of the load points, for the time budget.
SERVER_START_ALLOWANCE_SECONDS = 15.0
# Drift counting on / off, alternating in short pairs: a shared machine's background load
# moves req/s by more than the effect measured within seconds, so many short pairs and the
# median of their ratios (targets.drift_cost) say more than a few long points.
DRIFT_PAIRS = {1: 6, 100: 2}  # rows per request -> pairs (other sizes: 2)
DRIFT_POINT_SECONDS = 2.0
# Shadow mode on / off, alternating in short pairs for the same reason. Its effect is larger
# than drift counting's (a second model call per request), so fewer pairs do.
SHADOW_PAIRS = {1: 4, 100: 2}  # rows per request -> pairs (other sizes: 2)
SHADOW_POINT_SECONDS = 2.0
# The alias both services follow (a rollout needs MODEL_URI=models:/<name>@<alias>).
SHADOW_ALIAS = "bench"
# Both services poll the registry this often, so they differ by the policy alone; the shadow
# one finds its candidate within about a second instead of the default 30 s.
SHADOW_RELOAD_SECONDS = "1"
CANDIDATE_LOAD_TIMEOUT_SECONDS = 30.0
# Registering the candidate, the second server's start and the candidate's load, on top of
# SERVER_START_ALLOWANCE_SECONDS, for the time budget.
SHADOW_SETUP_ALLOWANCE_SECONDS = 10.0


class Bench(MultiModelPhase):
    """The phases of a run, in order: every server of each model side by side, this
    service's sweep, the cost of drift counting and of shadow mode, its container, its
    variants, then many models in one service (multi_model.py)."""

    def execute(self, registry_env: dict[str, str]) -> BenchRun:
        settings = self.settings
        if settings.multi_model:
            self.reserve_multi_model()
        # First, while nothing else of this run competes for the CPU.
        self.run.imports = import_costs()
        say(f"[{self.elapsed():4.0f}s] import costs measured")
        registry = registry_server.start(self.work / "mlflow", free_port(), env=registry_env)
        try:
            say(f"[{self.elapsed():4.0f}s] MLflow server at {registry.url}")
            versions = {m: bench_models.register(registry.url, m) for m in settings.models}
            for model, registered in versions.items():
                say(f"[{self.elapsed():4.0f}s] registered {registered.uri}: {registered.onnx}")
                self.run.notes.append(f"{model}: registered {registered.uri}; {registered.onnx}.")
            ours = {m: self.compare(registry.url, m, versions[m]) for m in settings.models}
            for model, server in ours.items():
                for concurrency in settings.sweep_concurrency:
                    if concurrency not in settings.comparison_concurrency:
                        self.measure(server, model, TARGET_ROWS, concurrency)
                self.drift_cost(registry.url, model, versions[model], server)
                self._stop(server)
                if settings.shadow:
                    self.shadow_cost(registry.url, model, versions[model])
            if not settings.shadow:
                self.run.notes.append("the cost of shadow mode was not measured: BENCH_SHADOW=off")
            # The container before the variants: the last plans are the first to be dropped
            # when the time budget runs out.
            self.containers(registry.url, versions)
            self.variants(registry.url, {m: r.uri for m, r in versions.items()})
            if settings.multi_model:
                self.multi_model(registry)
        finally:
            self.stop_all()
            registry.stop()
        self.run.load_after = machine.load_average()
        busiest = max(os.getloadavg()[0], float(self.run.load_before.split(" / ")[0]))
        cores = os.cpu_count() or 1
        if busiest > cores / 2:
            self.run.notes.append(
                f"The machine was shared and busy (1-minute load up to {busiest:.1f} on {cores} "
                "cores): absolute figures are lower and noisier than on an idle machine. The "
                "servers of a model ran interleaved under the same conditions, so the ratios "
                "still hold."
            )
        self.run.elapsed_seconds = self.elapsed()
        return self.run

    def compare(
        self, tracking_uri: str, model: str, registered: bench_models.Registered
    ) -> Running:
        """Every server on one model: start, agree, every comparison point, memory."""
        log_dir, uri = self.work / "logs", registered.uri
        theirs = self._start(
            lambda: start_mlflow_serve(MLFLOW_SERVE, tracking_uri, uri, log_dir), model
        )
        ours = self._start(lambda: start_ours(OURS, tracking_uri, uri, log_dir, {}), model)
        info = httpx.get(f"{ours.url}/model/info", timeout=10).json()
        self.run.runtimes[model] = str(info.get("runtime") or "")
        request = our_request(ours.url, registered.name)
        self.run.ours_v2_request = request.description
        peers = self.start_mlservers(tracking_uri, model, registered)
        floor = self.start_floor(ours, request, model, registered.name)
        largest = max(self.bodies)
        self.same_answers(
            theirs,
            [
                (ours, INVOCATIONS, self.bodies[largest]),
                (ours, request.path, request.body(largest)),
                *((peer, v2_infer(registered.name).path, v2_body(largest)) for peer, _ in peers),
            ],
        )
        for rows in self.settings.payload_rows:
            for concurrency in self.settings.comparison_concurrency:
                # Interleaved, so drift in the machine's background load hits all alike.
                self.measure(theirs, model, rows, concurrency)
                self.measure(ours, model, rows, concurrency)
                if rows == TARGET_ROWS:
                    self.measure_v2(ours, request, peers, registered.name, model, concurrency)
                    if floor is not None and concurrency == TARGET_CONCURRENCY:
                        self.measure(
                            floor,
                            model,
                            TARGET_ROWS,
                            concurrency,
                            path=request.path,
                            body=request.body(TARGET_ROWS),
                        )
        if floor is not None:
            floor_routes.measure_pairs(self, ours, floor, model, registered.name)
        others = [peer for peer, _ in peers] + ([floor] if floor is not None else [])
        for server in (theirs, ours, *others):
            self._record_memory(server, model)
        self._stop(theirs)
        for server in others:
            self._stop(server)
        return ours

    def start_floor(self, ours: Running, request: Request, model: str, name: str) -> Running | None:
        """The HTTP floor (http_floor.py), answering with this service's own response to the
        v2 request, so both write the same bytes, and each prediction path with the service's
        own answer to that path's body (floor_routes.py)."""
        if not self.settings.floor:
            return None
        body = request.body(TARGET_ROWS)
        answer = httpx.post(
            f"{ours.url}{request.path}",
            content=body,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        answer.raise_for_status()
        answers = floor_routes.floor_answers(ours.url, name)
        return self._start(
            lambda: start_floor(HTTP_FLOOR, answer.text, request.path, self.work / "logs", answers),
            model,
        )

    def measure_v2(
        self,
        ours: Running,
        request: Request,
        peers: list[tuple[Running, MLServerConfig]],
        name: str,
        model: str,
        concurrency: int,
    ) -> None:
        """This service and every MLServer configuration, one after the other, on the v2 body."""
        self.measure(
            ours,
            model,
            TARGET_ROWS,
            concurrency,
            label=OURS_V2,
            path=request.path,
            body=request.body(TARGET_ROWS),
        )
        route = v2_infer(name)
        for peer, config in peers:
            if concurrency == TARGET_CONCURRENCY or config.single_connection:
                self.measure(
                    peer,
                    model,
                    TARGET_ROWS,
                    concurrency,
                    path=route.path,
                    body=v2_body(TARGET_ROWS),
                )

    def start_mlservers(
        self, tracking_uri: str, model: str, registered: bench_models.Registered
    ) -> list[tuple[Running, MLServerConfig]]:
        """Every MLServer configuration on the version's model.pkl, downloaded once."""
        executable = self.settings.mlserver
        if executable is None:
            return []
        if not executable.is_file():
            self.run.notes.append(
                f"MLServer not measured: {executable} is missing (`make bench` builds it)."
            )
            return []
        started = time.perf_counter()
        model_file = download(tracking_uri, registered.uri, self.work / "mlserver-models" / model)
        self.run.mlserver_download_seconds[model] = time.perf_counter() - started
        peers = []
        for config in CONFIGS:
            self.run.mlserver_configs[config.label] = config.describe()
            if not self._fits(SERVER_START_ALLOWANCE_SECONDS + 30):
                self.run.notes.append(f"skipped {config.label} ({model}): the budget ran out")
                continue
            try:
                server = self._start(
                    lambda config=config: start_mlserver(
                        executable,
                        config,
                        registered.name,
                        registered.version,
                        model_file,
                        self.work,
                    ),
                    model,
                )
            except RuntimeError as why:  # its log tail: a broken venv must not end the run
                tail = " ".join(str(why).split())[-600:]
                self.run.notes.append(f"{config.label} ({model}) did not start: {tail}")
                continue
            peers.append((server, config))
        return peers

    def drift_cost(
        self, tracking_uri: str, model: str, registered: bench_models.Registered, ours: Running
    ) -> None:
        """This service as shipped (counting drift against the version's reference) and with
        DRIFT_ENABLED=false, on the same version at 16 connections, in alternation; then the
        counting's own CPU time per request, on the same rows (drift_counting.py)."""
        uri = registered.uri
        drift = httpx.get(f"{ours.url}/model/info", timeout=10).json().get("drift") or {}
        if not drift.get("monitored"):
            self.run.notes.append(
                f"drift cost not measured ({model}): {drift.get('reason', 'no drift section')}"
            )
            return
        loads = sorted({TARGET_ROWS, *self.settings.payload_rows})
        pairs = {rows: DRIFT_PAIRS.get(rows, 2) for rows in loads}
        per_point = DRIFT_POINT_SECONDS + 1
        needed = self.settings.warmup_seconds * len(loads) + per_point * 2 * sum(pairs.values())
        if not self._fits(SERVER_START_ALLOWANCE_SECONDS + needed):
            self.run.notes.append(f"skipped the drift cost ({model}): the budget ran out")
            return
        off = self._start(
            lambda: start_ours(
                OURS_NO_DRIFT, tracking_uri, uri, self.work / "logs", {"DRIFT_ENABLED": "false"}
            ),
            model,
        )
        for rows in loads:
            for _ in range(pairs[rows]):
                seconds = DRIFT_POINT_SECONDS
                self.measure(
                    ours, model, rows, TARGET_CONCURRENCY, label=OURS_DRIFT, duration=seconds
                )
                self.measure(off, model, rows, TARGET_CONCURRENCY, duration=seconds)
        self._stop(off)
        if registered.drift_reference is not None:
            timed = self.run.drift_counting_seconds.setdefault(model, {})
            for rows in loads:
                answer = self._labels(ours, INVOCATIONS, self.bodies[rows])
                timed[rows] = drift_counting.counting_seconds(
                    registered.drift_reference,
                    bench_models.IRIS_COLUMNS,
                    bench_models.iris_rows(rows),
                    answer,
                )

    def shadow_cost(
        self, tracking_uri: str, model: str, registered: bench_models.Registered
    ) -> None:
        """This service with a second version of the model in its rollout's shadow step, and
        without a rollout policy, both following the same alias to the same stable version, at
        16 connections, in alternation (shadow_cost.py reads the pairs)."""
        loads = sorted({TARGET_ROWS, *self.settings.payload_rows})
        pairs = {rows: SHADOW_PAIRS.get(rows, 2) for rows in loads}
        per_point = SHADOW_POINT_SECONDS + 1
        needed = (
            self.settings.warmup_seconds * 2 * len(loads)
            + per_point * 2 * sum(pairs.values())
            + SHADOW_SETUP_ALLOWANCE_SECONDS
        )
        if not self._fits(SERVER_START_ALLOWANCE_SECONDS + needed):
            self.run.notes.append(f"skipped the cost of shadow mode ({model}): the budget ran out")
            return
        candidate = bench_models.register_candidate(tracking_uri, registered)
        MlflowRest(tracking_uri).set_alias(registered.name, SHADOW_ALIAS, registered.version)
        # A policy whose first step is shadow; without a judge the rollout stays there.
        policy = policy_document(SHADOW_ALIAS, steps=[{"mode": "shadow", "duration": "1h"}])
        put_candidate(tracking_uri, registered.name, candidate.version, policy, "bench")
        uri = f"models:/{registered.name}@{SHADOW_ALIAS}"
        log_dir = self.work / "logs"
        plain_env = {
            "RELOAD_INTERVAL_SECONDS": SHADOW_RELOAD_SECONDS,
            # Named and absent, so no policy can be found at the default mount path.
            "ROLLOUT_POLICY_FILE": str(self.work / "no-rollout-policy.yaml"),
        }
        policy_file = write_policy(self.work / f"rollout-{model}.yaml", policy)
        shadow_env = {**plain_env, "ROLLOUT_POLICY_FILE": str(policy_file)}
        plain = self._start(
            lambda: start_ours(OURS_NO_SHADOW, tracking_uri, uri, log_dir, plain_env), model
        )
        shadow = self._start(
            lambda: start_ours(OURS_SHADOW, tracking_uri, uri, log_dir, shadow_env), model
        )
        waiting = self._candidate_in_shadow(shadow, candidate.version)
        if waiting:
            self.run.notes.append(f"the cost of shadow mode ({model}) not measured: {waiting}")
        else:
            say(f"[{self.elapsed():4.0f}s] candidate v{candidate.version} ({model}) in shadow")
            self.run.shadow_load[model] = machine.load_average()
            for rows in loads:
                for _ in range(pairs[rows]):
                    seconds = SHADOW_POINT_SECONDS
                    self.measure(shadow, model, rows, TARGET_CONCURRENCY, duration=seconds)
                    self.measure(plain, model, rows, TARGET_CONCURRENCY, duration=seconds)
        self._stop(shadow)
        self._stop(plain)

    @staticmethod
    def _candidate_in_shadow(server: Running, version: str) -> str:
        """Wait until GET /model/info says the candidate runs in shadow; why not, or ''."""
        deadline = time.monotonic() + CANDIDATE_LOAD_TIMEOUT_SECONDS
        rollout: dict[str, object] = {}
        while time.monotonic() < deadline:
            rollout = httpx.get(f"{server.url}/model/info", timeout=10).json().get("rollout") or {}
            if rollout.get("candidate_version") == version and rollout.get("mode") == "shadow":
                return ""
            time.sleep(0.2)
        return (
            f"candidate v{version} not in shadow after {CANDIDATE_LOAD_TIMEOUT_SECONDS:g} s "
            f"(rollout: {rollout or 'none'})"
        )

    def variants(self, tracking_uri: str, uris: dict[str, str]) -> None:
        """The scikit-learn runtime with batching on and off at the target point, and with a
        tiny queue under 64 connections (overload)."""
        log_dir = self.work / "logs"
        per_server = self.settings.warmup_seconds + self.settings.duration_seconds
        sklearn = {"MODEL_RUNTIME": "sklearn"}
        plans = []
        # The slowest model first: it is where batching and overload matter most, and the
        # last plans are the first to be dropped when the time budget runs out.
        for model in sorted(uris, key=lambda m: m != "random_forest"):
            if self.run.runtime(model) != "sklearn":  # else OURS is already this reference
                plans.append((OURS_SKLEARN, model, sklearn, TARGET_CONCURRENCY))
            plans.append(
                (OURS_UNBATCHED, model, {**sklearn, "BATCH_ENABLED": "false"}, TARGET_CONCURRENCY)
            )
            if model == "random_forest" or len(uris) == 1:
                small_queue = {**sklearn, "QUEUE_MAX_REQUESTS": OVERLOAD_QUEUE}
                plans.append((OURS_SMALL_QUEUE, model, small_queue, OVERLOAD_CONCURRENCY))
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
                self.run.notes.append(
                    overload_probe(label, server.invocations, self.bodies[TARGET_ROWS], concurrency)
                )
            self._stop(server)

    def containers(self, tracking_uri: str, versions: dict[str, bench_models.Registered]) -> None:
        """Each image on each version: start -> ready and memory after a warm-up."""
        if not isinstance(self.docker, container.Docker):
            return
        for image in self.docker.images:
            for model in sorted(versions, key=lambda m: m != "random_forest"):
                self._container(image, model, tracking_uri, versions[model])

    def _container(
        self,
        image: container.Image,
        model: str,
        tracking_uri: str,
        registered: bench_models.Registered,
    ) -> None:
        assert isinstance(self.docker, container.Docker)
        if not self._fits(SERVER_START_ALLOWANCE_SECONDS + self.settings.warmup_seconds + 5):
            self.run.notes.append(f"skipped {image.tag} ({model}): the budget ran out")
            return

        def warm(url: str, name: str = registered.name) -> None:
            request = our_request(url, name)
            self.drive(
                f"{url}{request.path}",
                request.body(TARGET_ROWS),
                TARGET_CONCURRENCY,
                max(self.settings.warmup_seconds, 1.0),
            )

        try:
            facts = container.measure(self.docker, image, model, tracking_uri, registered.uri, warm)
        except RuntimeError as why:
            self.run.notes.append(f"{image.tag} ({model}) failed: {str(why)[-500:]}")
            return
        self.run.containers.append(facts)
        say(
            f"[{self.elapsed():4.0f}s] {image.tag} ({model}) ready in "
            f"{facts.start_to_ready_seconds:.1f} s, {facts.memory_bytes / 2**20:.0f} MiB"
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
        docker: container.Docker | str | None = None
        if settings.container:
            # Before the clock starts: a cached build takes seconds, a changed requirements
            # file minutes, and neither is part of what is measured.
            say("preparing the service image (Docker)")
            docker = container.prepare(Path(folder))
            if isinstance(docker, container.Docker):
                say(f"image {docker.image} ready in {docker.build_seconds:.0f} s")
        else:
            docker = "BENCH_CONTAINER=off"
        bench = Bench(settings, Path(folder), docker)
        try:
            return bench.execute(registry_env())
        finally:
            bench.stop_all()
            if isinstance(docker, container.Docker):
                docker.stop()
