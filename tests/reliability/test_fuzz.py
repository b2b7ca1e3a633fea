"""Bad input at scale against the real service: schemathesis over its OpenAPI (built from the
served signature), hypothesis-made JSON, oversized bodies, too many rows, trickling clients."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from tests.reliability.fuzz_targets import BODY_TIMEOUT, MAX_BODY_BYTES, MAX_ROWS, Target
from tests.support.models import IRIS_COLUMNS
from tests.support.servers import Service

pytestmark = pytest.mark.integration

# Examples per schemathesis operation; raise it for a longer hunt (FUZZ_EXAMPLES=500).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
ROW = [5.1, 3.5, 1.4, 0.2]


@pytest.fixture(scope="module")
def service(iris_service: Target) -> Target:
    """The iris service of conftest.py (logistic regression, the pickle)."""
    return iris_service


@pytest.fixture(scope="module")
def api_schema(service: Service) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{service.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


def assert_error_body(response: httpx.Response | object) -> None:
    """Every refusal is JSON naming what went wrong."""
    status = response.status_code  # type: ignore[attr-defined]
    assert status < 500, f"{status}: {response.text}"  # type: ignore[attr-defined]
    if status >= 400:
        body = json.loads(response.content)  # type: ignore[attr-defined]
        assert isinstance(body, dict)
        assert body["error"]
        assert body["message"]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_openapi_operations_never_fail_the_server(
    case: schemathesis.Case, service: Service
) -> None:
    # The routes build their responses by hand and declare only 200 in the OpenAPI, so
    # status-code and response-schema conformance would flag every documented 4xx; the
    # guarantee checked is: no 5xx, and every 4xx is a JSON error naming the problem.
    response = case.call_and_validate(base_url=service.url, checks=[not_a_server_error])
    assert_error_body(response)


def _json_values() -> st.SearchStrategy[object]:
    keys = st.sampled_from(
        [*IRIS_COLUMNS, "dataframe_split", "dataframe_records", "instances", "inputs", "columns",
         "data"]
    ) | st.text(max_size=8)  # fmt: skip
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20)
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=6) | st.dictionaries(keys, children, max_size=6)
        ),
        max_leaves=30,
    )


@pytest.mark.parametrize("path", ["/predict", "/invocations"])
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=_json_values())
def test_arbitrary_json_gets_2xx_or_a_json_4xx(
    service: Service, path: str, payload: object
) -> None:
    response = httpx.post(
        f"{service.url}{path}",
        content=json.dumps(payload),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert_error_body(response)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.binary(max_size=300))
def test_arbitrary_bytes_get_a_json_4xx_or_2xx(service: Service, body: bytes) -> None:
    response = httpx.post(
        f"{service.url}/predict",
        content=body,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert_error_body(response)


def test_oversized_body_with_content_length_is_413(service: Service) -> None:
    body = json.dumps([ROW] * (MAX_BODY_BYTES // 20)).encode()
    assert len(body) > MAX_BODY_BYTES
    response = httpx.post(
        f"{service.url}/predict",
        content=body,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["detail"][0]["field"] == "body"


def test_oversized_chunked_body_is_413(service: Service) -> None:
    def chunks() -> Iterator[bytes]:
        # No Content-Length: the service must count bytes as they arrive.
        for _ in range(MAX_BODY_BYTES // 256):
            yield b" " * 256
        yield json.dumps([ROW]).encode()

    response = httpx.post(
        f"{service.url}/predict",
        content=chunks(),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 413


def test_too_many_rows_is_422(service: Service) -> None:
    for path, body in (
        ("/predict", [ROW] * (MAX_ROWS + 1)),
        ("/invocations", {"inputs": [ROW] * (MAX_ROWS + 1)}),
    ):
        response = httpx.post(f"{service.url}{path}", json=body, timeout=30)
        assert response.status_code == 422, response.text
        assert f"at most {MAX_ROWS} rows" in response.text


@pytest.mark.parametrize(
    "body",
    [
        # Found by schemathesis: finite values the schema accepts but the pipeline cannot
        # score; the first makes scikit-learn raise, the second makes it return NaN.
        [[1.7976931348623157e308] * 4],
        {"petal_length": 1.7976931348623157e308, "sepal_width": -1.9e-236,
         "sepal_length": 2.7262907133998984e16, "petal_width": 1.7892283776264776e16},
    ],
    ids=["raises", "nan-output"],
)  # fmt: skip
def test_finite_values_that_overflow_the_model_are_422(service: Service, body: object) -> None:
    response = httpx.post(f"{service.url}/predict", json=body, timeout=30)
    assert response.status_code == 422, response.text
    assert response.json()["message"] == "the model cannot score these values"


def _trickle(url: str, stop: threading.Event) -> tuple[bytes, float]:
    """POST a 200-byte body one byte per second; return what the server answered and when."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    started = time.monotonic()
    sock.sendall(
        b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Length: 200\r\n\r\n"
    )
    try:
        sock.setblocking(False)
        answer = b""
        while not stop.is_set() and time.monotonic() - started < 30:
            with contextlib.suppress(OSError):  # the server may have closed its side already
                sock.send(b" ")
            time.sleep(1)
            try:
                chunk = sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                break
            if not chunk:
                break  # closed by the server
            answer += chunk
        return answer, time.monotonic() - started
    finally:
        sock.close()


def test_trickling_clients_do_not_hold_the_service(service: Service) -> None:
    stop = threading.Event()
    results: list[tuple[bytes, float]] = []
    threads = [
        threading.Thread(target=lambda: results.append(_trickle(service.url, stop)))
        for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        slowest = 0.0
        for _ in range(30):
            started = time.monotonic()
            response = httpx.post(f"{service.url}/predict", json=[ROW], timeout=30)
            slowest = max(slowest, time.monotonic() - started)
            assert response.status_code == 200
        assert slowest < 1.0, f"a normal request took {slowest:.2f}s next to trickling clients"
    finally:
        for thread in threads:
            thread.join(timeout=60)
        stop.set()
    assert len(results) == 20
    cut_after = max(took for _, took in results)
    print(f"trickle: 20 slow clients cut after <= {cut_after:.1f}s;", end=" ")
    print(f"slowest of 30 normal requests {slowest * 1000:.0f} ms")
    for answer, took in results:
        assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
        assert b'"error":"invalid_input"' in answer
        # Cut after the body timeout, not after the client gave up (30 s).
        assert took < BODY_TIMEOUT + 5, took


def test_body_timeout_does_not_hit_normal_slow_uploads(service: Service, tmp_path: Path) -> None:
    """A body that arrives within the timeout, even in pieces, is served normally."""

    def pieces() -> Iterator[bytes]:
        body = json.dumps([ROW] * 10).encode()
        for start in range(0, len(body), 50):
            time.sleep(0.05)
            yield body[start : start + 50]

    response = httpx.post(
        f"{service.url}/predict",
        content=pieces(),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 10
