"""Run the inference service (`python -m inference`) locally, one process per tenant, serving
the tenant's models.yaml as the cluster mounts it (MODELS_FILE, ROLLOUT_POLICY_DIR)."""

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
    models_file: Path
    port: int
    child: processes.Child

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        return processes.http_ok(f"{self.url}/ready")


def start(
    tenant: str,
    models_file: Path,
    policy_dir: Path,
    port: int,
    tracking_uri: str,
    run_dir: Path,
    reload_interval_seconds: int,
) -> LocalService:
    """The service of `tenant`, serving every entry of `models_file` (the overlay's
    models.yaml) with the rollout policies they name read from `policy_dir` (the overlay)."""
    python_path = [str(REPO_ROOT / "service"), str(REPO_ROOT)]
    if os.environ.get("PYTHONPATH"):
        python_path.append(os.environ["PYTHONPATH"])
    # As in the cluster, services hold no storage credentials: artifacts come via MLflow's proxy.
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_")
        and key not in ("MLFLOW_S3_ENDPOINT_URL", "MODEL_URI", "ROLLOUT_POLICY_FILE")
    }
    env = {
        **inherited,
        "PYTHONPATH": os.pathsep.join(python_path),
        # As the ConfigMaps tenant-models and rollout-policy are mounted in the cluster.
        "MODELS_FILE": str(models_file.resolve()),
        "ROLLOUT_POLICY_DIR": str(policy_dir.resolve()),
        "MLFLOW_TRACKING_URI": tracking_uri,
        "TENANT": tenant,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "MODEL_CACHE_DIR": str((run_dir / "cache" / tenant).resolve()),
        "RELOAD_INTERVAL_SECONDS": str(reload_interval_seconds),
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
    return LocalService(tenant, models_file, port, child)


def _post(url: str, body: Any, timeout: float) -> dict:
    request = urllib.request.Request(  # noqa: S310 (loopback URL built here)
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback)
        return json.loads(response.read())


def predict(
    service: LocalService, model: str, records: list[dict[str, Any]], timeout: float = 30
) -> dict:
    """POST /models/<model>/predict: the answer (`model`, `predictions`, ...)."""
    return _post(f"{service.url}/models/{model}/predict", records, timeout)


def predict_v2(
    service: LocalService, model: str, records: list[dict[str, Any]], timeout: float = 30
) -> list[Any]:
    """POST /v2/models/<model>/infer (the Open Inference Protocol) with one tensor per
    column, named after it: the predicted labels."""
    answer = _post(f"{service.url}/v2/models/{model}/infer", v2_request(records), timeout)
    labels = next(o for o in answer["outputs"] if o["name"] == "predict")
    return list(labels["data"])


def v2_request(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The records as v2 input tensors of shape [N]: text as BYTES, whole numbers as INT64,
    other numbers as FP64 (service/inference/api/v2.py accepts each for its column type)."""
    inputs = []
    for column in records[0]:
        values = [record[column] for record in records]
        if any(isinstance(v, str) for v in values):
            datatype = "BYTES"
        elif all(isinstance(v, bool) for v in values):
            datatype = "BOOL"
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            datatype = "INT64"
        else:
            datatype = "FP64"
        inputs.append(
            {"name": column, "shape": [len(values)], "datatype": datatype, "data": values}
        )
    return {"inputs": inputs}
