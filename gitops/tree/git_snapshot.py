"""A read-only copy of the repository at a git ref, without touching the repository's state."""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class GitRefError(ValueError):
    """A ref that does not name a commit, or a folder that is not a git repository."""


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)


def resolve(repo: Path, ref: str) -> str:
    """Return the commit id `ref` names in `repo`."""
    if _git(repo, "rev-parse", "--git-dir").returncode != 0:
        raise GitRefError(f"{repo} is not a git repository")
    result = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if result.returncode != 0 or not result.stdout.strip():
        raise GitRefError(
            f"git ref {ref!r} does not name a commit in {repo} "
            "(for a remote branch, fetch it first: git fetch origin main)"
        )
    return result.stdout.decode().strip()


@contextmanager
def snapshot(repo: Path, commit: str) -> Iterator[Path]:
    """Yield a temporary folder holding the tree of `commit` (git archive, so no worktree)."""
    archive = _git(repo, "archive", "--format=tar", commit)
    if archive.returncode != 0:
        raise GitRefError(f"git archive {commit} failed: {archive.stderr.decode().strip()}")
    with tempfile.TemporaryDirectory(prefix="gitops-diff-") as folder:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(folder, filter="data")
        yield Path(folder)
