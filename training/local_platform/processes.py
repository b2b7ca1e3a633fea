"""Child processes in their own process group, so stopping one stops everything it spawned
(mlflow server forks uvicorn; nothing is left orphaned)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace_seconds: float = 15.0) -> int | None:
        """SIGTERM the group, wait, then SIGKILL whatever is left; returns the exit code."""
        if self.alive():
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        # The leader may exit before its children; make sure the group is gone.
        _signal_group(self.process.pid, signal.SIGKILL)
        return self.process.returncode


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def start(
    name: str,
    command: Sequence[str],
    env: Mapping[str, str],
    log_path: Path,
    cwd: Path | None = None,
) -> Child:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(command),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own session: Ctrl-C reaches only us, and we stop the children in order.
            start_new_session=True,
        )
    return Child(name, process, log_path)


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback URLs we build)
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until(
    child: Child,
    ready: Callable[[], bool],
    timeout: float,
    interval: float = 0.3,
) -> None:
    """Poll `ready` until it holds; RuntimeError with the log tail if the child dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if not child.alive():
            raise RuntimeError(
                f"{child.name} exited with code {child.process.returncode}; log "
                f"{child.log_path}:\n{child.log_tail()}"
            )
        time.sleep(interval)
    raise RuntimeError(
        f"{child.name} not ready after {timeout:.0f}s; log {child.log_path}:\n{child.log_tail()}"
    )
