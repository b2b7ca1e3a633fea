"""A registered version's input example, as records a client would send."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def records(model: str, version: str) -> list[dict[str, Any]]:
    import mlflow.artifacts

    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{model}/{version}/input_example.json"
    )
    example = json.loads(Path(local).read_text())
    # MLflow stores DataFrame examples in pandas "split" orient: {"columns": [...], "data": [...]}.
    if isinstance(example, dict) and {"columns", "data"} <= example.keys():
        return [dict(zip(example["columns"], row, strict=True)) for row in example["data"]]
    if isinstance(example, list):
        return example
    raise ValueError(f"{model} version {version}: unexpected input example layout")
