"""The service's container images on the run's registered version: `docker run` -> /ready,
and memory (`docker stats`) after a warm-up, for the full image and the slim one (ONNX only,
for pickle-free tenants), each built as the image workflow's build matrix builds it. The
engine, and the image build, are tests/images/engine.py's; only a Python base image already
on this machine is used, so the benchmark never waits for a pull or a debootstrap."""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gitops.tree.inventory import built_images
from tests.benchmarks.contenders import POLL
from tests.benchmarks.results import ContainerFacts
from tests.images import engine as docker
from tests.support.servers import free_port
from training.local_platform import processes

# The matrix entries measured, each tagged <name>:bench.
IMAGE_NAMES = ("inference-service", "inference-service-slim")
SERVICE = docker.REPO_ROOT / "service"
READY_TIMEOUT_SECONDS = 120.0
# Writable at run time, as the Dockerfile says: the model cache and /tmp (emptyDirs in the
# cluster); the rest of the root filesystem is read-only.
TMPFS = ("/var/cache/inference", "/tmp")
_UNITS = {
    "B": 1,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
}
_AMOUNT = re.compile(r"^\s*([0-9.]+)\s*([A-Za-z]+)\s*$")


@dataclass(frozen=True)
class Image:
    tag: str
    size_bytes: int  # `docker image inspect` Size: what a node stores after the pull
    build_seconds: float


@dataclass
class Docker:
    engine: docker.Engine
    images: list[Image]

    @property
    def build_seconds(self) -> float:
        return sum(image.build_seconds for image in self.images)

    @property
    def image(self) -> str:
        return ", ".join(image.tag for image in self.images)

    def stop(self) -> None:
        self.engine.stop()  # stops dockerd only if it was started for this run


def dockerfile_base(dockerfile: Path = SERVICE / "Dockerfile") -> str:
    """The Dockerfile's default PYTHON_IMAGE."""
    for line in dockerfile.read_text().splitlines():
        if line.startswith("ARG PYTHON_IMAGE="):
            return line.split("=", 1)[1].strip()
    raise ValueError(f"{dockerfile} declares no default PYTHON_IMAGE")


def memory_bytes(mem_usage: str) -> int:
    """`docker stats --format {{.MemUsage}}`, e.g. '105.3MiB / 23.47GiB' -> bytes used."""
    used = mem_usage.split("/")[0]
    match = _AMOUNT.match(used)
    if not match or match[2].upper() not in _UNITS:
        raise ValueError(f"unexpected docker stats memory: {mem_usage!r}")
    return round(float(match[1]) * _UNITS[match[2].upper()])


def prepare(log_dir: Path) -> Docker | str:
    """The engine and a freshly built (usually cached) image, or why the container is skipped."""
    try:
        engine = docker.start(log_dir)
    except (docker.Unavailable, OSError, subprocess.SubprocessError) as why:
        return f"Docker is not available: {why}"
    candidates = [os.environ.get("PYTHON_IMAGE", ""), dockerfile_base(), docker.LOCAL_BASE]
    base = next((c for c in candidates if c and engine.has_image(c)), None)
    if base is None:
        engine.stop()
        return (
            f"no Python base image on this machine (tried {', '.join(c for c in candidates if c)}"
            "); `pytest tests/images` builds one"
        )
    images = []
    for entry in (b for b in built_images(docker.REPO_ROOT) if b.name in IMAGE_NAMES):
        tag = f"{entry.name}:bench"
        try:
            seconds = engine.build(
                tag, docker.REPO_ROOT / entry.context, base, tuple(entry.build_args)
            )
            size = int(engine.run("image", "inspect", "--format", "{{.Size}}", tag).strip())
        except (RuntimeError, subprocess.SubprocessError, ValueError) as why:
            engine.stop()
            return f"{tag} did not build: {str(why)[-300:]}"
        images.append(Image(tag, size, seconds))
    return Docker(engine, images)


def _wait_ready(prepared: Docker, url: str, name: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    polls = 0
    while time.monotonic() < deadline:
        if processes.http_ok(f"{url}/ready"):
            return
        polls += 1
        if polls % 20 == 0:  # about once a second: `docker inspect` is a process of its own
            running = prepared.engine.run("inspect", "-f", "{{.State.Running}}", name, check=False)
            if running.strip() != "true":
                logs = prepared.engine.run("logs", name, check=False)
                raise RuntimeError(f"container {name} exited: {logs[-2000:]}")
        time.sleep(POLL)
    raise RuntimeError(f"container {name}: {url}/ready not 200 within {READY_TIMEOUT_SECONDS} s")


def measure(
    prepared: Docker,
    image: Image,
    model: str,
    tracking_uri: str,
    model_uri: str,
    warm: Callable[[str], None],
) -> ContainerFacts:
    """Start `image` on `model_uri`, time it to /ready, warm it with `warm(url)`, read its
    memory, remove it."""
    name, port = f"bench-{uuid.uuid4().hex[:8]}", free_port()
    env = {
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MODEL_URI": model_uri,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    options = ["--read-only"]
    for path in TMPFS:
        options += ["--tmpfs", f"{path}:rw,uid=10001,gid=10001"]
    env_args = [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    # Host networking: the run's MLflow listens on 127.0.0.1 only.
    prepared.engine.run(
        "run", "--detach", "--name", name, "--network", "host", *options, *env_args, image.tag
    )
    try:
        _wait_ready(prepared, url, name)
        seconds = time.perf_counter() - started
        warm(url)
        usage = prepared.engine.run("stats", "--no-stream", "--format", "{{.MemUsage}}", name)
        return ContainerFacts(model, seconds, memory_bytes(usage), image.tag, image.size_bytes)
    finally:
        prepared.engine.run("rm", "--force", name, check=False)
