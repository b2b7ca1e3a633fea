"""Start this service and `mlflow models serve`, and time start -> ready the same way for both
(MLServer: tests/benchmarks/mlserver_peer.py)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import REPO_ROOT, free_port
from training.local_platform import processes
from training.local_platform.registry_server import mlflow_executable

READY_TIMEOUT_SECONDS = 120.0
# Start -> ready is polled this often for every server (a coarser poll would add up to its
# interval to a start-up of about a second).
POLL = 0.05


@dataclass
class Running:
    label: str
    url: str
    child: processes.Child
    start_to_ready_seconds: float
    # MLServer waits for "background tasks" after SIGTERM for as long as a client keeps a
    # connection open; everything it started is killed with its process group after this.
    stop_grace_seconds: float = 15.0

    @property
    def invocations(self) -> str:
        return f"{self.url}/invocations"

    def stop(self) -> None:
        self.child.stop(grace_seconds=self.stop_grace_seconds)


def wait_ready(child: processes.Child, url: str) -> None:
    """Poll `url` until it answers 200, every POLL_SECONDS; stop the child if it never does."""
    try:
        processes.wait_until(child, lambda: processes.http_ok(url), READY_TIMEOUT_SECONDS, POLL)
    except BaseException:
        child.stop(grace_seconds=5)
        raise


def start_ours(
    label: str, tracking_uri: str, model_uri: str, log_dir: Path, extra: Mapping[str, str]
) -> Running:
    """`python -m inference` as tests/support/servers.py starts it; ready = GET /ready answers
    200 (a model is loaded)."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "service"), str(REPO_ROOT)]),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "MODEL_CACHE_DIR": str(log_dir / f"cache-{port}"),
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MODEL_URI": model_uri,
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    command = [sys.executable, "-m", "inference"]
    child = processes.start("inference service", command, env, log_dir / f"svc-{port}.log")
    wait_ready(child, f"{url}/ready")
    return Running(label, url, child, time.perf_counter() - started)


def start_mlflow_serve(label: str, tracking_uri: str, model_uri: str, log_dir: Path) -> Running:
    """`mlflow models serve` with the local environment; ready = GET /ping answers 200."""
    port = free_port()
    command = [
        mlflow_executable(),
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        "-p",
        str(port),
        "-h",
        "127.0.0.1",
    ]
    # It execs `uvicorn` by name, so the interpreter's bin folder must be on PATH.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PATH": path}
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    child = processes.start("mlflow models serve", command, env, log_dir / f"serve-{port}.log")
    wait_ready(child, f"{url}/ping")
    return Running(label, url, child, time.perf_counter() - started)
