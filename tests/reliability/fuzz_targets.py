"""A service the fuzzing runs against: a real `python -m inference` process on 127.0.0.1
serving a real model from the session's MLflow registry, and what that model answers for given
rows, computed in the test process from the same version. The fixtures are in conftest.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.models.loader import load_version
from inference.models.model import Prediction
from inference.models.registry import Registry
from tests.support.models import log_and_register
from tests.support.servers import Service, start_service
from training.local_platform.registry_server import RegistryServer

# Small limits, so oversized and too-many-rows cases are cheap; room for bodies 6,000 deep.
MAX_BODY_BYTES = 65536
MAX_ROWS = 50
BODY_TIMEOUT = 2.0


@dataclass
class Target(Service):
    """A running service and what it serves."""

    model: str
    version: str
    columns: list[str]
    # The float datatype the runtime feeds the model: FP64 (the pickle) or FP32 (onnxruntime).
    model_float: str
    # What the model answers for rows (in signature order), computed in this process.
    reference: Callable[[list[list[Any]]], Prediction]


def start_target(
    registry: RegistryServer,
    folder: Path,
    model: str,
    trained: tuple[Any, Any],
    *,
    onnx: bool = False,
    settings: dict[str, str] | None = None,
) -> Target:
    version = log_and_register(registry.url, model, *trained, alias="staging", onnx=onnx)
    running = start_service(
        {
            "MODEL_URI": f"models:/{model}@staging",
            "MLFLOW_TRACKING_URI": registry.url,
            "RELOAD_INTERVAL_SECONDS": "0",
            **(settings or {}),
        },
        folder,
    )
    # The same version, loaded here as the service loads it: the reference answers.
    loaded = load_version(Registry(registry.url), model, version, None, None, folder / "here")
    runtime = running.get("/model/info").json()["runtime"]
    assert runtime == loaded.runtime == ("onnx" if onnx else "sklearn"), runtime
    columns = [c.name for c in loaded.schema.columns]
    return Target(
        running.url,
        running.child,
        model,
        version,
        columns,
        "FP32" if onnx else "FP64",
        loaded.predict,
    )
