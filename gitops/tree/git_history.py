"""What a repository's git history says about a commit: is it there, is it in the history of
HEAD, is one commit older than another, what does its tree hold. Read-only, through `git`.

"In the history" means an ancestor of HEAD (or HEAD itself): a commit that only a side branch
reaches can disappear with that branch, and a tree can only vouch for the commits it grew
from. `git merge-base --is-ancestor A B` counts A == B as an ancestor.
"""

from __future__ import annotations

import re
import subprocess
from enum import Enum
from pathlib import Path

COMMIT = re.compile(r"^[0-9a-f]{40}$")


class HistoryState(Enum):
    FULL = "full"
    SHALLOW = "shallow"  # a clone with --depth: older commits are absent, not wrong
    NONE = "none"  # not inside a git repository at all (e.g. an exported copy of the tree)


class GitHistory:
    """Questions about the history of the git repository at (or above) `repo`."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo

    def _git(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-C", str(self.repo), *args], capture_output=True, text=True, check=False
        )

    def state(self) -> HistoryState:
        if not self.repo.is_dir():
            return HistoryState.NONE
        shallow = self._git("rev-parse", "--is-shallow-repository")
        if shallow.returncode != 0:
            return HistoryState.NONE
        return HistoryState.SHALLOW if shallow.stdout.strip() == "true" else HistoryState.FULL

    def is_commit(self, sha: str) -> bool:
        """`sha` is written as a full 40-hex commit id and the repository has that commit."""
        if not COMMIT.match(sha):
            return False
        return self._git("cat-file", "-e", f"{sha}^{{commit}}").returncode == 0

    def is_ancestor(self, older: str, newer: str) -> bool:
        """`older` is `newer` or one of its ancestors (False when either is unknown)."""
        if not (self.is_commit(older) and self.is_commit(newer)):
            return False
        return self._git("merge-base", "--is-ancestor", older, newer).returncode == 0

    def in_history(self, sha: str) -> bool:
        """`sha` is HEAD or an ancestor of it."""
        head = self._git("rev-parse", "--verify", "--quiet", "HEAD^{commit}").stdout.strip()
        return bool(head) and self.is_ancestor(sha, head)

    def has_file(self, sha: str, path: str) -> bool:
        """The tree of commit `sha` holds a file at `path` (relative to `repo`)."""
        if not self.is_commit(sha):
            return False
        # `<commit>:./<path>` is relative to the directory git runs in (gitrevisions(7)),
        # so a tree that is a folder of a larger repository works too.
        return self._git("cat-file", "-e", f"{sha}:./{path}").returncode == 0

    def text_at(self, sha: str, path: str) -> str | None:
        """The text of the file at `path` in the tree of commit `sha`; None without one."""
        if not self.is_commit(sha):
            return None
        shown = self._git("show", f"{sha}:./{path}")
        return shown.stdout if shown.returncode == 0 else None

    def files_at(self, ref: str, folder: str) -> dict[str, str] | None:
        """path -> text of every file under `folder` (both relative to `repo`) at `ref`; None
        when `ref` names no commit."""
        resolved = self._git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if resolved.returncode != 0:
            return None
        commit = resolved.stdout.strip()
        listing = self._git("ls-tree", "-r", "-z", "--name-only", commit, "--", folder)
        found = {}
        for path in filter(None, listing.stdout.split("\0")):
            shown = self._git("show", f"{commit}:./{path}")
            if shown.returncode == 0:
                found[path] = shown.stdout
        return found
