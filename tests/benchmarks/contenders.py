"""Start the two servers under test and time start -> ready the same way for both."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import free_port, start_service
from training import processes
from training.registry_server import mlflow_executable

READY_TIMEOUT_SECONDS = 120.0


@dataclass
class Running:
    label: str
    url: str
    child: processes.Child
    start_to_ready_seconds: float

    @property
    def invocations(self) -> str:
        return f"{self.url}/invocations"

    def stop(self) -> None:
        self.child.stop()


def start_ours(
    label: str, tracking_uri: str, model_uri: str, log_dir: Path, extra: Mapping[str, str]
) -> Running:
    """`python -m inference`; ready = GET /ready answers 200 (a model is loaded)."""
    started = time.perf_counter()
    service = start_service(
        {
            "MLFLOW_TRACKING_URI": tracking_uri,
            "MODEL_URI": model_uri,
            "LOG_LEVEL": "WARNING",
            **extra,
        },
        log_dir,
        timeout=READY_TIMEOUT_SECONDS,
    )
    return Running(label, service.url, service.child, time.perf_counter() - started)


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
    try:
        processes.wait_until(child, lambda: processes.http_ok(f"{url}/ping"), READY_TIMEOUT_SECONDS)
    except BaseException:
        child.stop()
        raise
    return Running(label, url, child, time.perf_counter() - started)
