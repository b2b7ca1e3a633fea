"""Soak: clients keep predicting while the alias moves back and forth between two versions.

Short by default (SOAK_SWAPS=12); `make soak` runs the long one (SOAK_SWAPS=60). Prints the
figures (requests, failures, swaps, RSS) as one JSON line starting with `soak:`.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.reliability.scrape import rss_bytes, sample
from tests.reliability.stack import wait_for
from tests.support.models import iris_forest, iris_frame, iris_logistic, log_and_register, set_alias
from tests.support.servers import start_service
from training.local_platform.registry_server import RegistryServer

pytestmark = pytest.mark.integration

MODEL = "soak-iris"
ALIAS = "live"
SWAPS = int(os.environ.get("SOAK_SWAPS", "12"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "8"))
# Seconds between alias moves, drawn uniformly (the brief asks for ~1-3 s).
MIN_GAP, MAX_GAP = 1.0, 3.0


def test_soak_swaps_under_load(registry: RegistryServer, tmp_path: Path) -> None:
    url = registry.url
    first = log_and_register(url, MODEL, *iris_logistic(), alias=ALIAS, experiment="soak")
    second = log_and_register(url, MODEL, *iris_forest(), experiment="soak")
    promoted = {first}
    service = start_service(
        {
            "MODEL_URI": f"models:/{MODEL}@{ALIAS}",
            "MLFLOW_TRACKING_URI": url,
            "RELOAD_INTERVAL_SECONDS": "0.5",
        },
        tmp_path,
    )
    features, _ = iris_frame()
    rows = features.to_numpy().tolist()
    stop = threading.Event()
    lock = threading.Lock()
    outcomes: Counter[str] = Counter()
    versions_seen: Counter[str] = Counter()

    def client(seed: int) -> None:
        pick = random.Random(seed)
        with httpx.Client(base_url=service.url, timeout=30) as http:
            while not stop.is_set():
                batch = pick.sample(rows, pick.randint(1, 20))
                try:
                    response = http.post("/predict", json=batch)
                    result = str(response.status_code)
                    version = response.json()["model"]["version"] if response.is_success else None
                except httpx.HTTPError as exc:
                    result, version = type(exc).__name__, None
                with lock:
                    outcomes[result] += 1
                    if version is not None:
                        versions_seen[version] += 1

    def serving() -> str:
        return str(service.get("/ready").json().get("version"))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    pace = random.Random(0)
    swaps = 0
    rss_after_first = rss_after_last = 0
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        target = first
        for swaps in range(1, SWAPS + 1):
            time.sleep(pace.uniform(MIN_GAP, MAX_GAP))
            target = second if target == first else first
            promoted.add(target)
            set_alias(url, MODEL, ALIAS, target)
            wait_for(lambda t=target: serving() == t, 60, f"swap {swaps} to v{target}")
            if swaps == 1:
                rss_after_first = rss_bytes(service.child.process.pid)
        rss_after_last = rss_bytes(service.child.process.pid)
        metrics = service.get("/metrics").text
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        service.stop()

    figures = {
        "swaps": swaps,
        "clients": CLIENTS,
        "seconds": round(time.monotonic() - started, 1),
        "requests": sum(outcomes.values()),
        "outcomes": dict(outcomes),
        "versions_seen": dict(versions_seen),
        "reload_failures": sample(metrics, "inference_model_reloads_total", result="failure"),
        "reload_successes": sample(metrics, "inference_model_reloads_total", result="success"),
        "rss_after_first_swap_mb": round(rss_after_first / 2**20, 1),
        "rss_after_last_swap_mb": round(rss_after_last / 2**20, 1),
    }
    print("soak:", json.dumps(figures))
    assert swaps == SWAPS
    assert set(outcomes) == {"200"}, figures
    assert set(versions_seen) <= promoted, figures
    assert set(versions_seen) == {first, second}, figures
    assert figures["reload_failures"] == 0, figures
    assert figures["reload_successes"] == SWAPS + 1, figures
    assert abs(rss_after_last - rss_after_first) <= 0.10 * rss_after_first, figures
