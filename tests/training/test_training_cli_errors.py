"""The CLI as a user runs it: one line on stderr and the documented exit code, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from training.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "training", *argv],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": f"{REPO_ROOT / 'service'}{os.pathsep}{REPO_ROOT}", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_unreachable_mlflow_is_one_line_naming_the_uri() -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    result = _run("status", MLFLOW_TRACKING_URI=uri)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert uri in lines[0]
    assert "not reachable" in lines[0]


def test_unknown_tenant_is_one_line_with_exit_2() -> None:
    result = _run("train", "--tenant", "tenant-zz")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "unknown tenant 'tenant-zz'; valid: tenant-a" in lines[0]
