"""Real processes on 127.0.0.1 for tests: the S3 endpoint, MLflow, the inference service."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from training.local_platform import processes
from training.local_platform.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
# Every child a test starts; the session stops survivors, so a test that fails between
# starting a server and its try/finally leaves no orphan behind.
STARTED: list[processes.Child] = []
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def start_s3(log_dir: Path) -> tuple[dict[str, str], processes.Child]:
    """moto's S3 server: stands in for MinIO, whose server isn't installable here."""
    port = free_port()
    child = processes.start(
        "moto s3",
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        os.environ,
        log_dir / "moto.log",
    )
    STARTED.append(child)
    url = f"http://127.0.0.1:{port}"
    processes.wait_until(child, lambda: processes.http_ok(f"{url}/moto-api/"), 60)
    return {"MLFLOW_S3_ENDPOINT_URL": url, **S3_CREDENTIALS}, child


def s3_client(env: Mapping[str, str]) -> Any:
    """boto3 S3 client for the endpoint and credentials in `env` (as start_s3 returns them)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=env["MLFLOW_S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )


@dataclass
class Service:
    url: str
    child: processes.Child

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", timeout=30, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, body: object, **kwargs: object) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, timeout=30, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> int | None:
        return self.child.stop()


def write_models_file(folder: Path, *models: Mapping[str, object], **switches: bool) -> Path:
    """A tenant's models.yaml in `folder`, one entry per model (name, alias or version, and
    optionally rollout, resources, deployment), for MODELS_FILE; `switches` are its
    tenant-wide ones (requireFileDigests, pickleFree)."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "models.yaml"
    document = {
        "apiVersion": "ml-platform.example.com/v1alpha1",
        "kind": "TenantModels",
        **switches,
        "models": [dict(model) for model in models],
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def start_service(
    settings: Mapping[str, str], log_dir: Path, *, wait_ready: bool = True, timeout: float = 180
) -> Service:
    """`python -m inference` in its own process group, as the container runs it."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "service"), str(REPO_ROOT)]),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "MODEL_CACHE_DIR": str(log_dir / f"cache-{port}"),
        **settings,
    }
    child = processes.start(
        "inference service", [sys.executable, "-m", "inference"], env, log_dir / f"svc-{port}.log"
    )
    STARTED.append(child)
    service = Service(f"http://127.0.0.1:{port}", child)
    path = "/ready" if wait_ready else "/health"
    try:
        processes.wait_until(child, lambda: processes.http_ok(f"{service.url}{path}"), timeout)
    except BaseException:
        child.stop()
        raise
    return service


def stop_survivors() -> None:
    for child in STARTED:
        child.stop(grace_seconds=5)
    STARTED.clear()
