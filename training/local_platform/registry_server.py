"""Start a local MLflow tracking server: sqlite backend, artifacts proxied by the server
(`--serve-artifacts`) to a local folder or to S3 (MinIO, moto) when an endpoint is configured."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from training.local_platform import processes

# mlflow server's job runner and huey consumers double memory (~0.5 -> ~1.1 GB) and start time
# (~18 -> ~33 s here); nothing in this platform submits server-side jobs.
SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


@dataclass
class RegistryServer:
    url: str
    child: processes.Child
    artifacts_destination: str

    def stop(self) -> None:
        self.child.stop()


def mlflow_executable() -> str:
    beside = Path(sys.executable).parent / "mlflow"
    return str(beside) if beside.exists() else "mlflow"


def ensure_bucket(destination: str, env: Mapping[str, str]) -> None:
    """Create the bucket of an s3:// destination when missing (MinIO starts empty)."""
    import boto3
    from botocore.exceptions import ClientError

    bucket = destination.removeprefix("s3://").split("/", 1)[0]
    s3 = boto3.client(
        "s3",
        endpoint_url=env.get("MLFLOW_S3_ENDPOINT_URL"),
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
        region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        s3.create_bucket(Bucket=bucket)


def default_destination(data_dir: Path, env: Mapping[str, str]) -> str:
    if env.get("MLFLOW_S3_ENDPOINT_URL"):
        return env.get("MLFLOW_ARTIFACTS_DESTINATION") or "s3://mlflow/artifacts"
    return str((data_dir / "artifacts").resolve())


def command(data_dir: Path, port: int, destination: str) -> list[str]:
    return [
        mlflow_executable(),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{(data_dir / 'mlflow.db').resolve()}",
        "--serve-artifacts",
        "--artifacts-destination",
        destination,
    ]


def start(
    data_dir: Path,
    port: int,
    artifacts_destination: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> RegistryServer:
    """Start the server and wait for /health; the caller must call stop()."""
    environment = {**(os.environ if env is None else env), **SERVER_ENV}
    data_dir.mkdir(parents=True, exist_ok=True)
    destination = artifacts_destination or default_destination(data_dir, environment)
    if destination.startswith("s3://"):
        ensure_bucket(destination, environment)
    url = f"http://127.0.0.1:{port}"
    child = processes.start(
        "mlflow server", command(data_dir, port, destination), environment, data_dir / "mlflow.log"
    )
    try:
        processes.wait_until(child, lambda: processes.http_ok(f"{url}/health"), timeout)
    except BaseException:
        child.stop()
        raise
    return RegistryServer(url, child, destination)
