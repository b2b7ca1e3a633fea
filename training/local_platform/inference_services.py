"""Run the inference service (`python -m inference`) locally, one process per tenant."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.local_platform import processes
from training.settings import REPO_ROOT


@dataclass
class LocalService:
    tenant: str
    model_uri: str
    port: int
    child: processes.Child

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        return processes.http_ok(f"{self.url}/ready")


def start(
    tenant: str,
    model_uri: str,
    port: int,
    tracking_uri: str,
    run_dir: Path,
    reload_interval_seconds: int,
    rollout_policy: Path | None = None,
) -> LocalService:
    python_path = [str(REPO_ROOT / "service"), str(REPO_ROOT)]
    if os.environ.get("PYTHONPATH"):
        python_path.append(os.environ["PYTHONPATH"])
    # As in the cluster, services hold no storage credentials: artifacts come via MLflow's proxy.
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key != "MLFLOW_S3_ENDPOINT_URL"
    }
    env = {
        **inherited,
        "PYTHONPATH": os.pathsep.join(python_path),
        "MODEL_URI": model_uri,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "TENANT": tenant,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "MODEL_CACHE_DIR": str((run_dir / "cache" / tenant).resolve()),
        "RELOAD_INTERVAL_SECONDS": str(reload_interval_seconds),
        # As the ConfigMap rollout-policy is mounted in the cluster; none: no rollouts.
        "ROLLOUT_POLICY_FILE": str(rollout_policy or run_dir / "no-rollout-policy"),
        # Local runs only: shut down quickly on Ctrl-C.
        "SHUTDOWN_GRACE_SECONDS": os.environ.get("SHUTDOWN_GRACE_SECONDS", "3"),
    }
    child = processes.start(
        f"inference service of {tenant}",
        [sys.executable, "-m", "inference"],
        env,
        run_dir / "logs" / f"{tenant}.log",
        cwd=REPO_ROOT,
    )
    return LocalService(tenant, model_uri, port, child)


def predict(service: LocalService, records: list[dict[str, Any]], timeout: float = 30) -> dict:
    request = urllib.request.Request(  # noqa: S310 (loopback URL built here)
        f"{service.url}/predict",
        data=json.dumps(records).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback)
        return json.loads(response.read())
