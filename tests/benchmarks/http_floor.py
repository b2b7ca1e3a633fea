"""The HTTP floor: uvicorn, configured as this service runs it, answering every request with a
fixed body and doing nothing else.

No Python service on this server stack can beat it on this machine, so it splits this
service's time per request into what the HTTP stack costs (the floor's) and what the service
itself adds (parsing, validation, the model call, metrics, the response), measured in the same
run and under the same load. The body it returns is the service's own answer to the bench's
request, so both write the same bytes.

Run as `python -m tests.benchmarks.http_floor` with BENCH_FLOOR_PORT and BENCH_FLOOR_BODY set.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from tests.benchmarks.contenders import Running, wait_ready
from tests.support.servers import REPO_ROOT, free_port
from training.local_platform import processes

BODY_VARIABLE = "BENCH_FLOOR_BODY"
PORT_VARIABLE = "BENCH_FLOOR_PORT"


def make_app(body: bytes) -> Any:
    """A bare ASGI app: read the request body whole, answer 200 with `body`."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # lifespan: nothing to start or stop
            return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def main() -> int:
    import uvicorn

    # The same Config as service/inference/__main__.py, so the floor is this service's stack.
    config = uvicorn.Config(
        make_app(os.environ[BODY_VARIABLE].encode()),
        host="127.0.0.1",
        port=int(os.environ[PORT_VARIABLE]),
        log_level="warning",
        access_log=False,
        server_header=False,
        lifespan="off",
    )
    uvicorn.Server(config).run()
    return 0


def start_floor(label: str, body: str, path: str, log_dir: Path) -> Running:
    """The floor on a free port; ready = it answers `path` (any method gets the body)."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "service"), str(REPO_ROOT)]),
        BODY_VARIABLE: body,
        PORT_VARIABLE: str(port),
    }
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    command = [sys.executable, "-m", "tests.benchmarks.http_floor"]
    child = processes.start("HTTP floor", command, env, log_dir / f"floor-{port}.log")
    wait_ready(child, f"{url}{path}")
    return Running(label, url, child, time.perf_counter() - started)


if __name__ == "__main__":
    sys.exit(main())
