"""The rollout judge's HTTP listener (serve_metrics) on a real socket: its two paths answer,
and unexpected methods, paths, bodies and bytes get a 4xx, never a 5xx, a traceback or a
dead listener."""

from __future__ import annotations

import socket
import string
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.raw_http import exchange
from training.local_platform.ports import free_port
from training.rollout.exposition import JudgeMetrics
from training.rollout.judge import serve_metrics

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"]
PATHS = ["/metrics", "/healthz", "/", "/metrics/", "/metrics?x=1", "//metrics", "/%00", "*"]


@pytest.fixture(scope="module")
def listener() -> Iterator[str]:
    port = free_port()
    server = serve_metrics(JudgeMetrics(), "127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def test_metrics_and_health_answer(listener: str) -> None:
    status, answer = exchange(listener, "GET", "/metrics")
    assert status == 200
    assert b"rollout_judge_errors_total" in answer
    assert exchange(listener, "GET", "/healthz")[0] == 200
    assert exchange(listener, "GET", "/metrics?scrape=1")[0] == 200
    status, answer = exchange(listener, "HEAD", "/metrics")
    assert status == 200
    assert answer.endswith(b"\r\n\r\n")  # headers only


def test_other_paths_and_methods_are_4xx(listener: str) -> None:
    assert exchange(listener, "GET", "/nope")[0] == 404
    status, answer = exchange(listener, "POST", "/metrics", b'{"a": 1}')
    assert status == 405
    assert b"Allow: GET, HEAD" in answer
    assert exchange(listener, "BREW", "/metrics")[0] == 405


_TOKEN = st.text(alphabet=string.ascii_letters + "-_!#$%&'*+.^`|~", min_size=1, max_size=12)
_TARGET = st.sampled_from(PATHS) | st.text(
    alphabet=string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/%?", max_size=60
).map(lambda tail: "/" + tail)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    method=st.sampled_from(METHODS) | _TOKEN,
    target=_TARGET,
    body=st.binary(max_size=2000),
    json_type=st.booleans(),
)
def test_any_method_path_and_body_get_an_answer_below_500(
    listener: str,
    method: str,
    target: str,
    body: bytes,
    json_type: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    headers = {"Content-Type": "application/json"} if json_type else {}
    status, answer = exchange(listener, method, target, body, headers)
    assert status is not None, answer[:200]
    assert status < 500, answer[:200]
    assert "Traceback" not in capsys.readouterr().err


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.binary(min_size=1, max_size=500))
def test_arbitrary_bytes_never_get_a_5xx_or_stop_the_listener(
    listener: str, raw: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    host, port = listener.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(raw + b"\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    status = answer.split(b" ", 2)[1:2]
    assert not (status and status[0].startswith(b"5")), answer[:200]
    assert "Traceback" not in capsys.readouterr().err
    assert exchange(listener, "GET", "/healthz")[0] == 200
