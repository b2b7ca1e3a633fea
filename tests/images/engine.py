"""A Docker engine for the image tests: found, or started when this machine can run one.

- The client must build with BuildKit (the Dockerfiles mount the proxy CA bundle as a build
  secret): `docker` when its buildx plugin works, else Debian's docker.io client, whose
  builder has BuildKit built in. DOCKER overrides the choice.
- The daemon: the running one, or `dockerd` started here (as root, with Debian's docker.io
  installed by `make system-tools`), stopped again when the session ends.
- The Python base: the Dockerfiles' default (the official image) when it can be pulled,
  else PYTHON_IMAGE, else one built from Debian's packages by tests/images/build-base.sh.
When none of this can work, the reason is returned so the tests skip saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_BASE = "local/python-base:3.13-slim-trixie"
CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt",)


class Unavailable(RuntimeError):
    """Docker cannot run here; the message says why."""


@dataclass
class Engine:
    client: str
    started: subprocess.Popen[bytes] | None = None
    log: list[str] = field(default_factory=list)

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        result = subprocess.run(
            [self.client, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "DOCKER_BUILDKIT": "1"},
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{self.client} {' '.join(args)}: {result.stderr.strip()[-2000:]}")
        return result.stdout

    def succeeds(self, *args: str, timeout: float = 300) -> bool:
        return (
            subprocess.run(
                [self.client, *args], capture_output=True, timeout=timeout, check=False
            ).returncode
            == 0
        )

    def has_image(self, tag: str) -> bool:
        return self.succeeds("image", "inspect", tag, timeout=60)

    def build(self, tag: str, context: Path, base: str, build_args: tuple[str, ...] = ()) -> float:
        """Build `context` as `tag` on `base` with `build_args` (NAME=value); returns the
        seconds it took."""
        args = ["build", "--tag", tag, "--build-arg", f"PYTHON_IMAGE={base}"]
        for arg in build_args:
            args += ["--build-arg", arg]
        ca = os.environ.get("PIP_CA") or next((c for c in CA_BUNDLES if Path(c).is_file()), "")
        if ca:
            args += ["--secret", f"id=pip-ca,src={ca}"]
        start = time.perf_counter()
        self.run(*args, str(context), timeout=1800)
        return time.perf_counter() - start

    def stop(self) -> None:
        if self.started is not None:
            self.started.terminate()
            try:
                self.started.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.started.kill()


def _client() -> str:
    if os.environ.get("DOCKER"):
        return os.environ["DOCKER"]
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "buildx", "version"], capture_output=True).returncode == 0
    ):
        return docker
    if Path("/usr/bin/docker").is_file():
        return "/usr/bin/docker"
    raise Unavailable("no Docker client that builds with BuildKit (docker + buildx, or docker.io)")


def _daemon_answers(client: str) -> bool:
    return subprocess.run([client, "info"], capture_output=True, timeout=60).returncode == 0


def start(log_dir: Path) -> Engine:
    engine = Engine(_client())
    if _daemon_answers(engine.client):
        return engine
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise Unavailable("no Docker daemon answers and dockerd is not installed")
    if os.geteuid() != 0:
        raise Unavailable("no Docker daemon answers and starting dockerd needs root")
    log = (log_dir / "dockerd.log").open("wb")
    engine.started = subprocess.Popen([dockerd], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if engine.started.poll() is not None:
            raise Unavailable(f"dockerd exited with {engine.started.returncode}: see {log.name}")
        if _daemon_answers(engine.client):
            return engine
        time.sleep(1)
    engine.stop()
    raise Unavailable("dockerd did not answer within 60 s")


def python_base(engine: Engine, default: str) -> str:
    """A Python base image the Dockerfiles can build on (see the module docstring)."""
    if os.environ.get("PYTHON_IMAGE"):
        return os.environ["PYTHON_IMAGE"]
    if engine.has_image(default) or engine.succeeds("pull", default):
        return default
    if engine.has_image(LOCAL_BASE):
        return LOCAL_BASE
    if shutil.which("debootstrap") is None:
        raise Unavailable(f"{default} cannot be pulled and debootstrap is not installed")
    subprocess.run(
        ["bash", str(REPO_ROOT / "tests/images/build-base.sh"), LOCAL_BASE],
        check=True,
        capture_output=True,
        timeout=1200,
        env={**os.environ, "DOCKER": engine.client},
    )
    return LOCAL_BASE
