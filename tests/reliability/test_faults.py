"""Faults against real servers on 127.0.0.1: the registry or the artifact store goes away,
a version's stored bytes are corrupt, the pod gets SIGTERM under load."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.reliability.scrape import sample
from tests.reliability.stack import Stack, copy_version, start_stack, wait_for
from tests.support.models import iris_forest, iris_frame, iris_logistic, log_and_register, set_alias
from tests.support.servers import Service, s3_client, start_service

pytestmark = pytest.mark.integration

MODEL = "faults-iris"
FOREST = "faults-forest"
ALIAS = "live"
FAILURES = 'inference_model_reloads_total{result="failure"}'


@dataclass
class Registered:
    stack: Stack
    v1: str  # logistic regression, what ALIAS starts on
    v2: str  # same artifacts as v1, another version number
    forest: str  # FOREST v1: a RandomForest, slow enough to keep requests in flight


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registered]:
    stack = start_stack(tmp_path_factory.mktemp("fault-stack"))
    try:
        url = stack.registry.url
        v1 = log_and_register(url, MODEL, *iris_logistic(), alias=ALIAS, experiment="faults")
        v2 = copy_version(url, MODEL, v1)
        forest = log_and_register(url, FOREST, *iris_forest(), experiment="faults")
        yield Registered(stack, v1, v2, forest)
    finally:
        stack.stop()


def settings(reg: Registered, **extra: str) -> dict[str, str]:
    return {
        "MODEL_URI": f"models:/{MODEL}@{ALIAS}",
        "MLFLOW_TRACKING_URI": reg.stack.registry_proxy.url,
        "RELOAD_INTERVAL_SECONDS": "0.5",
        **extra,
    }


@pytest.fixture
def alias_on_v1(registered: Registered) -> Iterator[Registered]:
    set_alias(registered.stack.registry.url, MODEL, ALIAS, registered.v1)
    yield registered
    registered.stack.registry_proxy.up()
    registered.stack.s3_proxy.up()
    set_alias(registered.stack.registry.url, MODEL, ALIAS, registered.v1)


def one_row() -> dict[str, float]:
    features, _ = iris_frame()
    return {k: float(v) for k, v in features.iloc[0].items()}


def failures(service: Service) -> float:
    return sample(service.get("/metrics").text, "inference_model_reloads_total", result="failure")


def served_version(service: Service) -> str:
    response = service.post("/predict", one_row())
    assert response.status_code == 200, response.text
    return str(response.json()["model"]["version"])


def test_registry_outage_at_start_and_while_serving(
    alias_on_v1: Registered, tmp_path: Path
) -> None:
    reg = alias_on_v1
    serving = start_service(settings(reg), tmp_path)
    starting: Service | None = None
    try:
        assert served_version(serving) == reg.v1
        reg.stack.registry_proxy.down()
        starting = start_service(settings(reg), tmp_path, wait_ready=False)

        # Until the starting one has failed 5 times (0.5 s doubling, +-20% jitter: ~7.5 s after
        # its first try), the serving one keeps answering.
        seen_at: list[float] = []
        last_seen = 0.0
        serving_failures_before = failures(serving)
        deadline = time.monotonic() + 60
        while len(seen_at) < 5:
            assert time.monotonic() < deadline, f"only {len(seen_at)} retries in 60 s"
            assert served_version(serving) == reg.v1
            assert serving.get("/ready").status_code == 200
            ready = starting.get("/ready")
            assert ready.status_code == 503
            count = failures(starting)
            if count > last_seen:
                seen_at.extend([time.monotonic()] * int(count - last_seen))
                last_seen = count
            time.sleep(0.1)
        assert starting.child.alive()
        assert failures(serving) >= serving_failures_before + 2
        reason = starting.get("/ready").json()["last_error"] or ""
        assert "cannot resolve" in reason, reason

        # Growing intervals: ~0.5, 1, 2, 4 s (the 0.1 s polling blurs each by at most that).
        gaps = [b - a for a, b in itertools.pairwise(seen_at)]
        print("registry outage: retry gaps", [round(g, 2) for g in gaps])
        assert gaps[-1] > 4 * gaps[0], gaps
        assert gaps[-1] > gaps[-2] > gaps[0], gaps
        attempts = [int(n) for n in re.findall(r"refresh failed \(attempt (\d+)\)", _log(starting))]
        assert attempts[:4] == [1, 2, 3, 4], attempts

        reg.stack.registry_proxy.up()
        wait_for(lambda: starting.get("/ready").status_code == 200, 30, "ready after outage")
        assert served_version(starting) == reg.v1
        assert starting.get("/ready").json()["version"] == reg.v1
        assert serving.child.alive()
        assert served_version(serving) == reg.v1
    finally:
        reg.stack.registry_proxy.up()
        serving.stop()
        if starting is not None:
            starting.stop()


def test_artifact_store_down_during_swap(alias_on_v1: Registered, tmp_path: Path) -> None:
    reg = alias_on_v1
    service = start_service(settings(reg), tmp_path)
    try:
        assert served_version(service) == reg.v1
        before = failures(service)
        reg.stack.s3_proxy.down()
        set_alias(reg.stack.registry.url, MODEL, ALIAS, reg.v2)

        wait_for(lambda: failures(service) >= before + 2, 60, "failed swap attempts")
        assert served_version(service) == reg.v1
        assert service.get("/ready").status_code == 200
        info = service.get("/model/info").json()
        assert info["version"] == reg.v1
        assert "cannot download" in (info["last_error"] or ""), info["last_error"]

        reg.stack.s3_proxy.up()
        wait_for(lambda: served_version(service) == reg.v2, 60, "the swap once S3 is back")
        assert service.get("/model/info").json()["last_error"] is None
    finally:
        service.stop()


def test_corrupt_artifact_never_served_over_many_cycles(
    alias_on_v1: Registered, tmp_path: Path
) -> None:
    """The registry entry is fine, the stored pickle is garbage: every cycle fails, cleanly."""
    reg = alias_on_v1
    s3 = s3_client(reg.stack.s3_env)
    key = _pickle_key(s3, reg, reg.v1)  # the candidate shares v1's stored artifacts
    original = s3.get_object(Bucket="mlflow", Key=key)["Body"].read()
    service = start_service(settings(reg), tmp_path)
    try:
        candidate = copy_version(reg.stack.registry.url, MODEL, reg.v1)
        assert served_version(service) == reg.v1
        before = failures(service)
        s3.put_object(Bucket="mlflow", Key=key, Body=os.urandom(len(original)))
        set_alias(reg.stack.registry.url, MODEL, ALIAS, candidate)

        wait_for(lambda: failures(service) >= before + 4, 60, "four failed load cycles")
        assert served_version(service) == reg.v1
        assert f"{MODEL} v{candidate}" in (service.get("/model/info").json()["last_error"] or "")
        cache = Path(tmp_path / f"cache-{service.url.rsplit(':', 1)[1]}" / MODEL)
        # Neither the broken version nor a half-written staging folder is left behind.
        assert sorted(p.name for p in cache.iterdir()) == [reg.v1]
    finally:
        s3.put_object(Bucket="mlflow", Key=key, Body=original)
        service.stop()


def _pickle_key(s3: object, reg: Registered, version: str) -> str:
    from mlflow import MlflowClient

    # MLflow 3: a logged version's source is models:/m-<id>, its artifacts under .../m-<id>/.
    source = MlflowClient(reg.stack.registry.url).get_model_version(MODEL, version).source
    model_id = source.removeprefix("models:/")
    assert model_id.startswith("m-"), source
    found = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="mlflow")  # type: ignore[attr-defined]
        for obj in page.get("Contents", [])
        if model_id in obj["Key"] and obj["Key"].endswith("/model.pkl")
    ]
    assert len(found) == 1, found
    return found[0]


def _log(service: Service) -> str:
    return service.child.log_path.read_text(errors="replace")


@dataclass
class Outcome:
    started: float
    ended: float
    result: str  # "200", another status, or the exception's type name


def _half_sent_request(url: str, rows: list[list[float]], sigterm_sent: threading.Event) -> str:
    """A request the server is already handling at SIGTERM (headers read, body half sent):
    finish it a second after the signal and return the status line."""
    body = json.dumps(rows).encode()
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
        assert sigterm_sent.wait(60)
        time.sleep(1)
        sock.sendall(body[len(body) // 2 :])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode()


def test_sigterm_under_load_drains_in_flight_requests(
    registered: Registered, tmp_path: Path
) -> None:
    grace = 5.0
    service = start_service(
        {
            "MODEL_URI": f"models:/{FOREST}/{registered.forest}",
            "MLFLOW_TRACKING_URI": registered.stack.registry.url,
            "SHUTDOWN_GRACE_SECONDS": str(grace),
        },
        tmp_path,
    )
    features, _ = iris_frame()
    rows = features.sample(100, random_state=1).to_numpy().tolist()
    outcomes: list[Outcome] = []
    half_sent: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    sigterm_sent = threading.Event()

    def client() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                # A fresh connection per request, like clients behind a load balancer.
                response = httpx.post(f"{service.url}/predict", json=rows, timeout=30)
                result = str(response.status_code)
            except httpx.HTTPError as exc:
                result = type(exc).__name__
            with lock:
                outcomes.append(Outcome(started, time.monotonic(), result))

    def slow_client() -> None:
        status = _half_sent_request(service.url, rows, sigterm_sent)
        with lock:
            half_sent.append(status)

    threads = [threading.Thread(target=client) for _ in range(16)]
    threads += [threading.Thread(target=slow_client) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        sigterm_at = time.monotonic()
        os.kill(service.child.process.pid, signal.SIGTERM)
        sigterm_sent.set()
        time.sleep(0.3)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{service.url}/health", timeout=5)
        code = service.child.process.wait(timeout=grace + 10)
        exited_after = time.monotonic() - sigterm_at
    finally:
        sigterm_sent.set()
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        service.stop()

    in_flight = sum(1 for o in outcomes if o.started < sigterm_at < o.ended)
    results = sorted({o.result for o in outcomes})
    print(f"sigterm: requests={len(outcomes)} in_flight={in_flight + len(half_sent)}", end=" ")
    print(f"outcomes={results} exit_code={code} exited_after_s={exited_after:.2f}")
    # Requests being handled at SIGTERM finish normally.
    assert half_sent == ["HTTP/1.1 200 OK"] * 8, half_sent
    settled = [o for o in outcomes if o.ended < sigterm_at]
    assert len(settled) >= 16  # at least one round of the 16 clients
    assert {o.result for o in settled} == {"200"}
    # After the signal a request is answered, or its connection is refused or closed (or reset)
    # (uvicorn closes connections whose request it has not started; in the cluster the preStop
    # sleep keeps new requests away by then); never a 5xx or a 503.
    late = {o.result for o in outcomes if o.ended >= sigterm_at}
    assert late <= {"200", "ConnectError", "RemoteProtocolError", "ReadError"}, late
    # uvicorn re-raises the signal once drained, so the exit status says "ended by SIGTERM"
    # (143 to the kubelet) rather than a crash.
    assert code == -signal.SIGTERM, code
    # The drain ends when the last request does (~1 s here), well inside the grace period.
    assert exited_after < grace + 3, exited_after
