"""What git tracks is what a clone gets: no symbolic links (a link to a local virtualenv
or cache breaks every clone, and `make venv` then follows it into a loop) and nothing
from the folders the Makefile creates."""

from __future__ import annotations

import subprocess

from gitops.paths import REPO_ROOT

SYMLINK_MODE = "120000"
# Created by `make venv`, `make setup`, `make up` and the tools; never part of a clone.
LOCAL_FOLDERS = (".venv", ".tools", ".run", ".cache")


def tracked() -> list[tuple[str, str]]:
    """(mode, path) of every file in git's index."""
    out = subprocess.run(
        ["git", "ls-files", "--stage", "-z"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    entries = []
    for record in filter(None, out.split("\0")):
        meta, _, path = record.partition("\t")
        entries.append((meta.split()[0], path))
    return entries


def misplaced(entries: list[tuple[str, str]]) -> list[str]:
    found = []
    for mode, path in entries:
        if mode == SYMLINK_MODE:
            found.append(f"{path}: a symbolic link")
        top = path.split("/", 1)[0]
        if top in LOCAL_FOLDERS:
            found.append(f"{path}: inside {top}/, which the Makefile creates locally")
    return found


def test_git_tracks_no_link_and_no_local_folder() -> None:
    entries = tracked()
    assert entries, "git ls-files listed nothing: not a clone?"
    assert misplaced(entries) == []


def test_a_committed_virtualenv_link_is_reported() -> None:
    planted = [("100644", "README.md"), (SYMLINK_MODE, ".venv"), ("100644", ".tools/bin/uv")]

    assert misplaced(planted) == [
        ".venv: a symbolic link",
        ".venv: inside .venv/, which the Makefile creates locally",
        ".tools/bin/uv: inside .tools/, which the Makefile creates locally",
    ]
