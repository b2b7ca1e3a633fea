"""Who did something and from which code: git commit, git user, login name."""

from __future__ import annotations

import getpass
import os
import subprocess
from datetime import UTC, datetime

from training.settings import REPO_ROOT


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None


def git_commit() -> str:
    return _git("rev-parse", "HEAD") or "unknown"


def git_dirty() -> bool:
    """True when tracked files differ from HEAD, so the commit alone does not describe the code."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return bool(status)


def actor(explicit: str | None = None) -> str:
    """--by, else git's user.name, else the login name."""
    if explicit:
        return explicit
    name = _git("config", "user.name")
    if name:
        return name
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
