"""MLServer 1.7.1 with its scikit-learn runtime, serving the same registered version.

Configuration, from MLServer's source and docs at tag 1.7.1 (github.com/SeldonIO/MLServer):
- mlserver/settings.py: `parallel_workers` (settings.json, or MLSERVER_PARALLEL_WORKERS) is the
  size of the inference pool, default 1; 0 runs inference in the main process
  (docs/user-guide/parallel-inference.md: the pool's IPC costs most for light models). There is
  no uvicorn `--workers`: mlserver/rest/server.py runs one uvicorn server in the main process.
  `debug` defaults to true, which turns on uvicorn's access log (one line per request); off here.
  The gRPC server always starts (mlserver/server.py), so it gets a free port like the rest.
- docs/user-guide/adaptive-batching.md and mlserver/batching/adaptive.py: `max_batch_size` and
  `max_batch_time` in model-settings.json group requests for up to that time into one predict.
- runtimes/sklearn/mlserver_sklearn/sklearn.py: `joblib.load` of `parameters.uri`, or of
  model.joblib, model.pickle or model.pkl in that folder; joblib reads the version's
  cloudpickle `model.pkl` as it is (cloudpickle writes standard pickles for sklearn classes).
- mlserver/handlers/dataplane.py: GET /v2/health/ready is `all(model.ready ...)`, true while no
  model is loaded yet, so readiness here is GET /v2/models/<name>/ready.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.benchmarks.contenders import Running, wait_ready
from tests.benchmarks.results import MLSERVER
from tests.support.servers import free_port
from training.local_platform import processes

IMPLEMENTATION = "mlserver_sklearn.SKLearnModel"
# The version was fitted on a DataFrame; a v2 tensor reaches it as a numpy array, and
# scikit-learn warns "X does not have valid feature names". The forest warns on every request
# (sklearn/utils/parallel.py enters warnings.catch_warnings per call, which re-arms it): one
# stderr line per request. Silenced, as a deployment would.
QUIET_WARNINGS = "ignore:X does not have valid feature names:UserWarning"
STOP_GRACE_SECONDS = 3.0


@dataclass(frozen=True)
class MLServerConfig:
    label: str
    parallel_workers: int
    max_batch_size: int = 0  # 0 or 1: adaptive batching off
    max_batch_time: float = 0.0
    # Measured at 1 connection too: only where a lone request is not slowed by design
    # (an IPC hop to a worker, or waiting for a batch to fill).
    single_connection: bool = False

    def describe(self) -> str:
        parts = [f"parallel_workers={self.parallel_workers}"]
        if self.max_batch_size > 1:
            parts.append(
                f"max_batch_size={self.max_batch_size}, max_batch_time={self.max_batch_time:g} s"
            )
        return "; ".join(parts) + "; debug=false; otherwise defaults"


CONFIGS = (
    # Inference on the event loop of the main process: no IPC.
    MLServerConfig(f"{MLSERVER}, parallel_workers=0", 0, single_connection=True),
    # One inference process per core; HTTP stays in the main process.
    MLServerConfig(f"{MLSERVER}, parallel_workers=2", 2),
    # Adaptive batching, up to the 16 connections' requests per call, waiting at most 10 ms,
    # with the default single worker so the main process parses while the worker predicts.
    MLServerConfig(f"{MLSERVER}, adaptive batching 16 / 10 ms", 1, 16, 0.01),
)


def pickled_model(folder: Path) -> Path:
    """The scikit-learn flavor's pickle in a downloaded MLflow model folder."""
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    return folder / mlmodel["flavors"]["sklearn"]["pickled_model"]


def download(tracking_uri: str, model_uri: str, destination: Path) -> Path:
    """The registered version's files, as MLflow's client downloads them; returns model.pkl."""
    from mlflow.artifacts import download_artifacts

    destination.mkdir(parents=True, exist_ok=True)
    local = download_artifacts(
        artifact_uri=model_uri, dst_path=str(destination), tracking_uri=tracking_uri
    )
    return pickled_model(Path(local))


def settings_documents(
    config: MLServerConfig,
    name: str,
    version: str,
    model_file: Path,
    folder: Path,
    ports: tuple[int, int, int],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings.json, model-settings.json) for one configuration; ports: http, grpc, metrics."""
    http, grpc, metrics = ports
    settings = {
        "debug": False,
        "host": "127.0.0.1",
        "http_port": http,
        "grpc_port": grpc,
        "metrics_port": metrics,
        "parallel_workers": config.parallel_workers,
        "environments_dir": str(folder / "envs"),
        "metrics_dir": str(folder / "metrics"),
    }
    model_settings = {
        "name": name,
        "implementation": IMPLEMENTATION,
        "max_batch_size": config.max_batch_size,
        "max_batch_time": config.max_batch_time,
        "parameters": {"uri": str(model_file), "version": version},
    }
    return settings, model_settings


def start_mlserver(
    executable: Path,
    config: MLServerConfig,
    name: str,
    version: str,
    model_file: Path,
    work: Path,
) -> Running:
    """`mlserver start <folder>`; ready = GET /v2/models/<name>/ready answers 200."""
    ports = (free_port(), free_port(), free_port())
    folder = work / f"mlserver-{ports[0]}"
    (folder / "models" / name).mkdir(parents=True)
    settings, model_settings = settings_documents(config, name, version, model_file, folder, ports)
    (folder / "settings.json").write_text(json.dumps(settings, indent=1))
    (folder / "models" / name / "model-settings.json").write_text(json.dumps(model_settings))
    # Its own venv: nothing of the harness's PYTHONPATH (this repository) leaks in.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONWARNINGS"] = QUIET_WARNINGS
    url = f"http://127.0.0.1:{ports[0]}"
    started = time.perf_counter()
    child = processes.start(
        config.label, [str(executable), "start", str(folder)], env, folder / "mlserver.log", folder
    )
    wait_ready(child, f"{url}/v2/models/{name}/ready")
    return Running(config.label, url, child, time.perf_counter() - started, STOP_GRACE_SECONDS)
