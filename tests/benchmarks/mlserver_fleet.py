"""MLServer 1.7.1 serving many models at once: its multi-model serving, one repository folder
with a model-settings.json per model, loaded at start.

From MLServer's source and docs at tag 1.7.1 (github.com/SeldonIO/MLServer):
- docs/examples/mms/README.md: one MLServer instance serves several models under their own
  paths, each a folder with its own model-settings.json. `mlserver start <folder>` lists every
  model-settings.json below the folder (mlserver/cli/serve.py, load_models_at_startup;
  mlserver/repository/repository.py, SchemalessModelRepository) and loads them all together
  (mlserver/server.py, `start`: asyncio.gather over the models).
- Models are served by mlserver-sklearn from the versions' model.pkl, as in mlserver_peer.py:
  MLServer's venv here has no ONNX runtime (tests/benchmarks/mlserver-requirements.txt).
- parallel_workers=0: inference in the main process, each model held once; with a pool,
  every worker process loads every model too (mlserver/server.py: the inference pool
  registry's load_model is one of the on_model_load hooks).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from tests.benchmarks.contenders import READY_TIMEOUT_SECONDS, Running
from tests.benchmarks.mlserver_peer import (
    QUIET_WARNINGS,
    STOP_GRACE_SECONDS,
    MLServerConfig,
    settings_documents,
)
from tests.support.servers import free_port
from training.local_platform import processes

POLL_SECONDS = 0.05
CONFIG = MLServerConfig("MLServer multi-model", parallel_workers=0)


def write_repository(
    folder: Path, models: Sequence[tuple[str, str, Path]], ports: tuple[int, int, int]
) -> None:
    """settings.json and models/<name>/model-settings.json for each (name, version, model.pkl)."""
    for name, version, model_file in models:
        settings, model_settings = settings_documents(
            CONFIG, name, version, model_file, folder, ports
        )
        (folder / "models" / name).mkdir(parents=True)
        (folder / "models" / name / "model-settings.json").write_text(json.dumps(model_settings))
    (folder / "settings.json").write_text(json.dumps(settings, indent=1))


def every_model_ready(url: str, names: Sequence[str]) -> bool:
    """GET /v2/models/<name>/ready answers 200 for each (the server's own readiness is true
    before any model is loaded: mlserver/handlers/dataplane.py)."""
    try:
        return all(
            httpx.get(f"{url}/v2/models/{name}/ready", timeout=2).status_code == 200
            for name in names
        )
    except httpx.HTTPError:
        return False


def start_mlserver_fleet(
    executable: Path, label: str, models: Sequence[tuple[str, str, Path]], work: Path
) -> Running:
    """`mlserver start <folder>` with every model of `models`; ready when all of them are."""
    ports = (free_port(), free_port(), free_port())
    folder = work / f"mlserver-fleet-{ports[0]}"
    write_repository(folder, models, ports)
    # Its own venv: nothing of the harness's PYTHONPATH (this repository) leaks in.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONWARNINGS"] = QUIET_WARNINGS
    url = f"http://127.0.0.1:{ports[0]}"
    names = [name for name, _, _ in models]
    started = time.perf_counter()
    child = processes.start(
        label, [str(executable), "start", str(folder)], env, folder / "mlserver.log", folder
    )
    try:
        processes.wait_until(
            child, lambda: every_model_ready(url, names), READY_TIMEOUT_SECONDS, POLL_SECONDS
        )
    except BaseException:
        child.stop(grace_seconds=5)
        raise
    return Running(label, url, child, time.perf_counter() - started, STOP_GRACE_SECONDS)
