"""The HTTP floor: uvicorn, configured as this service runs it, answering every request with a
fixed body and doing nothing else.

No Python service on this server stack can beat it on this machine, so it splits this
service's time per request into what the HTTP stack costs (the floor's) and what the service
itself adds (parsing, validation, the model call, metrics, the response), measured in the same
run and under the same load. The body it returns is the service's own answer to the bench's
request, so both write the same bytes.

Run as `python -m tests.benchmarks.http_floor` with BENCH_FLOOR_PORT and BENCH_FLOOR_BODY set;
BENCH_FLOOR_BODIES (optional, a JSON object of path -> body) gives a path its own answer, so
every prediction path gets the service's own bytes for it (floor_routes.py).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from tests.benchmarks.contenders import Running, wait_ready
from tests.support.servers import REPO_ROOT, free_port
from training.local_platform import processes

BODY_VARIABLE = "BENCH_FLOOR_BODY"
BODIES_VARIABLE = "BENCH_FLOOR_BODIES"
PORT_VARIABLE = "BENCH_FLOOR_PORT"


def _answer(body: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    return [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))], body


def make_app(body: bytes, bodies: dict[str, bytes] | None = None) -> Any:
    """A bare ASGI app: read the request body whole, answer 200 with `bodies[path]`, or with
    `body` on any other path. The answers are built once: a request costs one dict lookup."""
    default = _answer(body)
    by_path = {path: _answer(answer) for path, answer in (bodies or {}).items()}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # lifespan: nothing to start or stop
            return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        headers, answer = by_path.get(scope["path"], default)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    return app


def main() -> int:
    import uvicorn

    # The same Config as service/inference/__main__.py, so the floor is this service's stack,
    # but for `http`: the floor stays uvicorn's own httptools protocol, while the service's
    # writes each response in one write() (inference/api/one_write.py), a saving the floor
    # does not get.
    config = uvicorn.Config(
        make_app(
            os.environ[BODY_VARIABLE].encode(),
            {
                path: answer.encode()
                for path, answer in json.loads(os.environ.get(BODIES_VARIABLE, "{}")).items()
            },
        ),
        host="127.0.0.1",
        port=int(os.environ[PORT_VARIABLE]),
        log_level="warning",
        access_log=False,
        server_header=False,
        lifespan="off",
    )
    uvicorn.Server(config).run()
    return 0


def start_floor(
    label: str, body: str, path: str, log_dir: Path, bodies: dict[str, str] | None = None
) -> Running:
    """The floor on a free port; ready = it answers `path` (any method gets the body, or the
    path's own from `bodies`)."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "service"), str(REPO_ROOT)]),
        BODY_VARIABLE: body,
        BODIES_VARIABLE: json.dumps(bodies or {}),
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
