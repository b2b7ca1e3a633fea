"""A registry of its own for tests that break things: moto S3 and MLflow, each behind a
TcpProxy so a test can cut the service off from the registry, or the registry off from its
artifact store, without losing their state (moto keeps everything in memory)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.reliability.tcp_proxy import TcpProxy
from tests.support.servers import free_port, start_s3
from training.local_platform import processes, registry_server


@dataclass
class Stack:
    s3_env: dict[str, str]  # straight to moto, for boto3 in the test
    s3_proxy: TcpProxy  # what MLflow uses to reach S3
    registry: registry_server.RegistryServer  # straight to MLflow, for the test's own calls
    registry_proxy: TcpProxy  # what the services use to reach MLflow
    children: list[processes.Child]

    def stop(self) -> None:
        self.registry_proxy.down()
        self.registry.stop()
        self.s3_proxy.down()
        for child in self.children:
            child.stop()


def start_stack(work_dir: Path) -> Stack:
    s3_env, moto = start_s3(work_dir)
    moto_port = int(s3_env["MLFLOW_S3_ENDPOINT_URL"].rsplit(":", 1)[1])
    s3_proxy = TcpProxy(moto_port, free_port())
    s3_proxy.up()
    try:
        registry = registry_server.start(
            work_dir / "mlflow",
            free_port(),
            artifacts_destination="s3://mlflow/artifacts",
            env={**os.environ, **s3_env, "MLFLOW_S3_ENDPOINT_URL": s3_proxy.url},
            timeout=300,
        )
    except BaseException:
        s3_proxy.down()
        moto.stop()
        raise
    registry_proxy = TcpProxy(int(registry.url.rsplit(":", 1)[1]), free_port())
    registry_proxy.up()
    return Stack(s3_env, s3_proxy, registry, registry_proxy, [moto])


def copy_version(tracking_uri: str, name: str, version: str, into: str | None = None) -> str:
    """A new version of `into` (default: `name`) sharing the artifacts of `name` v`version`."""
    from mlflow import MlflowClient

    # A registered-model source: MLflow copies the run and logged-model lineage itself.
    created = MlflowClient(tracking_uri).create_model_version(
        into or name, f"models:/{name}/{version}"
    )
    return str(created.version)


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll until `check()` returns something truthy; AssertionError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
