"""service/startup_bytecode.py, without Docker: it imports what the service imports before it
serves and writes the bytecode of those standard modules that have none, and only those.

Run with PYTHONPYCACHEPREFIX pointing at an empty folder, so every standard module looks as it
does on the official image (no bytecode) and what the script writes lands in that folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "service/startup_bytecode.py"


def run(prefix: Path) -> str:
    ran = subprocess.run(
        [sys.executable, str(SCRIPT)],
        env={
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT / "service"),
            "PYTHONPYCACHEPREFIX": str(prefix),
            "PYTHONDONTWRITEBYTECODE": "1",
            "HOME": str(prefix.parent),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


def test_it_writes_the_bytecode_of_the_standard_modules_start_up_imports(tmp_path: Path) -> None:
    prefix = tmp_path / "pycache"
    assert "bytecode written for 0 modules" not in run(prefix)

    stdlib = Path(sysconfig.get_path("stdlib")).resolve()
    written = {p.relative_to(prefix).as_posix() for p in prefix.rglob("*.pyc")}
    under = stdlib.relative_to(stdlib.anchor).as_posix()
    assert written, "nothing written"
    assert all(p.startswith(under + "/") for p in written), sorted(written)[:5]
    # asyncio runs the server; logging is configured before it starts.
    assert any(p.startswith(f"{under}/asyncio/") for p in written)
    assert any(p.startswith(f"{under}/logging/") for p in written)
    # Not the whole library: a module nothing at start-up imports stays without.
    assert not any(p.startswith(f"{under}/tkinter/") for p in written)


def test_bytecode_already_there_is_left_as_it_is(tmp_path: Path) -> None:
    prefix = tmp_path / "pycache"
    run(prefix)
    before = {p: p.stat().st_mtime_ns for p in prefix.rglob("*.pyc")}

    assert "bytecode written for 0 modules" in run(prefix)
    assert {p: p.stat().st_mtime_ns for p in prefix.rglob("*.pyc")} == before
