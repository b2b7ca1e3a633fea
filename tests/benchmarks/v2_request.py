"""The Open Inference Protocol (v2) request MLServer and this service both get, and the
answers of every server read back into one list of labels."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from tests.benchmarks.bench_models import iris_rows

V2_INPUT = "input-0"


def v2_body(rows: int) -> str:
    """One [rows, n_features] FP64 tensor of real iris rows, in signature order."""
    data = iris_rows(rows)
    tensor = {
        "name": V2_INPUT,
        "shape": [len(data), len(data[0])],
        "datatype": "FP64",
        "data": [value for row in data for value in row],
    }
    return json.dumps({"inputs": [tensor]})


def predict_body(rows: int) -> str:
    """This service's own /predict body: a list of rows in signature order."""
    return json.dumps(iris_rows(rows))


def _flatten(values: Any) -> list[Any]:
    if not isinstance(values, list):
        return [values]
    return [item for value in values for item in _flatten(value)]


def labels(answer: Any) -> list[Any]:
    """The predicted labels of an answer: `predictions` (mlflow, /invocations, /predict) or
    the v2 output `predict` (the first output when none has that name), flattened."""
    if isinstance(answer, dict) and "predictions" in answer:
        return _flatten(answer["predictions"])
    if isinstance(answer, dict) and answer.get("outputs"):
        outputs = answer["outputs"]
        chosen = next((o for o in outputs if o.get("name") == "predict"), outputs[0])
        return _flatten(chosen.get("data"))
    raise ValueError(f"no predictions in the answer: {json.dumps(answer)[:300]}")


@dataclass(frozen=True)
class Request:
    """Where and what to POST for the v2 comparison."""

    path: str
    description: str
    v2: bool

    def body(self, rows: int) -> str:
        return v2_body(rows) if self.v2 else predict_body(rows)


def v2_infer(model_name: str) -> Request:
    return Request(
        f"/v2/models/{model_name}/infer",
        "POST /v2/models/<name>/infer (Open Inference Protocol v2, FP64 tensor)",
        True,
    )


FALLBACK = Request(
    "/predict",
    "POST /predict with a list of rows: this service did not answer GET /v2/health/ready, "
    "so it had no v2 API yet",
    False,
)


def our_request(url: str, model_name: str) -> Request:
    """v2 when the service answers GET /v2/health/ready with 200, else its own /predict."""
    try:
        ready = httpx.get(f"{url}/v2/health/ready", timeout=10).status_code == 200
    except httpx.HTTPError:
        ready = False
    return v2_infer(model_name) if ready else FALLBACK
