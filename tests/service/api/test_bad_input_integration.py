"""Every kind of client mistake gets a documented 4xx with a JSON body naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.models import IRIS_COLUMNS, iris_logistic, log_and_register
from tests.support.servers import Service, start_service
from training.local_platform.registry_server import RegistryServer

pytestmark = pytest.mark.integration

MAX_ROWS = 50
MAX_BYTES = 16384  # room for a body 5,000 levels deep
RECORD = dict(zip(IRIS_COLUMNS, [5.1, 3.5, 1.4, 0.2], strict=True))
MARKER = "client-secret-value-0123456789"
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def service(
    registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    estimator, features = iris_logistic()
    log_and_register(registry.url, "svc-bad-input", estimator, features, alias="staging")
    running = start_service(
        {
            "MODEL_URI": "models:/svc-bad-input@staging",
            "MLFLOW_TRACKING_URI": registry.url,
            "MAX_ROWS_PER_REQUEST": str(MAX_ROWS),
            "MAX_BODY_BYTES": str(MAX_BYTES),
        },
        tmp_path_factory.mktemp("svc-bad-input"),
    )
    yield running
    running.stop()


V2 = "/v2/models/svc-bad-input/infer"
REPEATED = (
    b'{"sepal_length": 1, "sepal_width": 1, "petal_length": 1, "petal_width": 1, "sepal_length": 2}'
)


def v2_matrix(row: list[float], datatype: str) -> dict[str, Any]:
    return {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": datatype, "data": row}]}


def raw(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


CASES = [
    # (id, path, body, headers, status, field, expected-substring)
    ("extra-feature", "/predict", {**RECORD, "colour": MARKER}, JSON, 422, "body[0].colour", "one of"),
    ("missing-feature", "/predict", {"sepal_length": 1.0}, JSON, 422, "body[0].petal_width", "number"),
    ("wrong-type", "/predict", {**RECORD, "sepal_width": MARKER}, JSON, 422, "body[0].sepal_width", "number (double)"),
    ("nan", "/predict", b'[[NaN, 1, 1, 1]]', JSON, 422, "body[0].sepal_length", "finite number"),
    ("infinity", "/predict", b'{"sepal_length": Infinity, "sepal_width": 1, "petal_length": 1, "petal_width": 1}', JSON, 422, "body[0].sepal_length", "finite number"),
    ("short-row", "/predict", [1.0, 2.0], JSON, 422, "body[0]", "4 values"),
    ("empty-list", "/predict", [], JSON, 422, "body", "at least one row"),
    ("too-many-rows", "/predict", [[1.0, 2.0, 3.0, 4.0]] * (MAX_ROWS + 1), JSON, 422, "body", f"at most {MAX_ROWS} rows"),
    ("body-too-big", "/predict", {"pad": "x" * MAX_BYTES}, JSON, 413, "body", f"at most {MAX_BYTES} bytes"),
    ("malformed-json", "/predict", b'{"sepal_length": ', JSON, 400, "body", "JSON"),
    ("empty-body", "/predict", b"", JSON, 400, "body", "JSON"),
    ("not-utf8", "/predict", b"\xff\xfe\xfd", JSON, 400, "body", "UTF-8"),
    ("text-content-type", "/predict", RECORD, {"content-type": "text/plain"}, 415, "content-type", "application/json"),
    ("form-content-type", "/predict", b"a=1", {"content-type": "application/x-www-form-urlencoded"}, 415, "content-type", "application/json"),
    ("unknown-invocation-key", "/invocations", {"records": [RECORD]}, JSON, 422, "body.records", "dataframe_split"),
    ("two-invocation-keys", "/invocations", {"inputs": [RECORD], "instances": [RECORD]}, JSON, 422, "body", "exactly one"),
    ("split-wrong-columns", "/invocations", {"dataframe_split": {"columns": ["a"], "data": [[1]]}}, JSON, 422, "dataframe_split.columns", "one of"),
    ("records-not-list", "/invocations", {"dataframe_records": RECORD}, JSON, 422, "dataframe_records", "array of records"),
    ("invocations-too-many-rows", "/invocations", {"inputs": [[1.0, 2.0, 3.0, 4.0]] * (MAX_ROWS + 1)}, JSON, 422, "inputs", f"at most {MAX_ROWS} rows"),
    # issue 26: a number beyond its datatype, a body too deep, a key given twice
    ("beyond-fp64", "/predict", b'[[1e999, 1, 1, 1]]', JSON, 422, "body[0].sepal_length", "(FP64)"),
    ("beyond-fp32", V2, v2_matrix([1e300, 1, 1, 1], "FP32"), JSON, 400, "inputs[0].data", "(FP32)"),
    ("beyond-int8", V2, v2_matrix([300, 1, 1, 1], "INT8"), JSON, 400, "inputs[0].data", "[-128, 127] (INT8)"),
    ("deep-arrays", "/predict", b"[" * 5000 + b"]" * 5000, JSON, 400, "body", "at most 32 levels deep"),
    ("deep-objects", "/invocations", b'{"a":' * 2000 + b"1" + b"}" * 2000, JSON, 400, "body", "at most 32 levels deep"),
    ("deep-v2", V2, b'{"inputs": ' + b"[" * 1000, JSON, 400, "body", "at most 32 levels deep"),
    ("repeated-key", "/predict", REPEATED, JSON, 400, "body", "each key once"),
    ("repeated-key-invocations", "/invocations", b'{"inputs": [], "inputs": [[1, 1, 1, 1]]}', JSON, 400, "body", "each key once"),
    ("repeated-key-v2", V2, b'{"inputs": [{"name": "input-0", "name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 1, 1, 1]}]}', JSON, 400, "body", "each key once"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "field", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_client_mistakes_get_a_4xx_naming_the_field(
    service: Service,
    path: str,
    body: Any,
    headers: dict[str, str],
    status: int,
    field: str,
    expected: str,
) -> None:
    response = httpx.post(f"{service.url}{path}", content=raw(body), headers=headers, timeout=30)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert payload["error"] == "invalid_input"
    matching = [d for d in payload["detail"] if d["field"] == field]
    assert matching, payload
    assert any(expected in d["expected"] for d in matching), payload
    assert MARKER not in response.text  # never echo the client's input back


def test_body_too_big_without_content_length_is_refused(service: Service) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"pad": "'
        for _ in range(MAX_BYTES // 512 + 2):
            yield b"x" * 512
        yield b'"}'

    response = httpx.post(f"{service.url}/predict", content=chunks(), headers=JSON, timeout=30)
    assert response.status_code == 413
    assert response.json()["detail"][0]["field"] == "body"


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [("GET", "/predict", 405, "method_not_allowed"), ("GET", "/nope", 404, "not_found")],
)
def test_wrong_route_or_method_is_json(
    service: Service, method: str, path: str, status: int, error: str
) -> None:
    response = httpx.request(method, f"{service.url}{path}", timeout=30)
    assert response.status_code == status
    assert response.json()["error"] == error


def test_a_repeated_key_is_named_whichever_value_comes_last(service: Service) -> None:
    for body in (REPEATED, REPEATED.replace(b'"sepal_length": 2', b'"sepal_length": 1')):
        response = httpx.post(f"{service.url}/predict", content=body, headers=JSON, timeout=30)
        assert response.status_code == 400, response.text
        assert response.json()["detail"][0]["message"] == (
            "key 'sepal_length' given twice in one object"
        )


def test_refusals_leave_no_traceback_in_the_log(service: Service) -> None:
    """The deep bodies above once raised RecursionError inside the parser (500, traceback)."""
    for body in (b"[" * 5000 + b"]" * 5000, b'{"a":' * 2000 + b"1" + b"}" * 2000):
        httpx.post(f"{service.url}/predict", content=body, headers=JSON, timeout=30)
    log = service.child.log_path.read_text(errors="replace")
    assert "Traceback" not in log
    assert "RecursionError" not in log


def test_mistakes_do_not_disturb_the_service(service: Service) -> None:
    for _ in range(20):
        httpx.post(f"{service.url}/predict", content=b"{", headers=JSON, timeout=30)
    assert service.post("/predict", RECORD).status_code == 200
    assert service.get("/ready").status_code == 200
    metrics = service.get("/metrics").text
    assert (
        'inference_http_requests_total{method="POST",model="svc-bad-input",route="/predict",status="400"}'
        in metrics
    )
    assert 'status="500"' not in metrics
