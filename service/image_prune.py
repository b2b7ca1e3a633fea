"""Remove from an installed venv what the service never loads, and strip the symbol tables of
the extension modules it does load, as service/image-prune.txt lists (a build-stage tool of
service/Dockerfile; it is not copied into the image):

    python3 image_prune.py image-prune.txt /opt/venv

Each entry is `remove <glob>` or `strip <glob>`, relative to the venv's site-packages, in a
paragraph with a comment saying why. An entry without one, an unknown action, or a glob that
matches nothing stops the build: the list is reviewed, not silently out of date. Prints what
each entry freed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ACTIONS = ("remove", "strip")
# Keeps the dynamic symbol table a shared object is loaded and linked by.
STRIP = ("strip", "--strip-unneeded")


class PruneListError(ValueError):
    """The prune list cannot be applied as written."""


@dataclass(frozen=True)
class Entry:
    action: str
    glob: str
    line: int


def parse(text: str) -> list[Entry]:
    """The entries of a prune list. Each must stand in a paragraph (lines between blank
    lines) that has a comment before it: its reason."""
    entries: list[Entry] = []
    reason = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            reason = False
            continue
        if line.startswith("#"):
            reason = True
            continue
        action, _, glob = line.partition(" ")
        glob = glob.strip()
        if action not in ACTIONS or not glob:
            raise PruneListError(f"line {number}: expected `remove <glob>` or `strip <glob>`")
        if glob.startswith("/") or ".." in Path(glob).parts:
            raise PruneListError(f"line {number}: {glob} is not inside site-packages")
        if not reason:
            raise PruneListError(f"line {number}: {line!r} has no comment saying why")
        entries.append(Entry(action, glob, number))
    return entries


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if len(found) != 1:
        raise PruneListError(f"{venv}: expected one lib/python3*/site-packages, found {found}")
    return found[0]


def size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def apply(entry: Entry, root: Path) -> int:
    """Apply one entry under `root`; the bytes it freed."""
    matches = sorted(root.glob(entry.glob))
    if not matches:
        raise PruneListError(f"line {entry.line}: {entry.action} {entry.glob} matches nothing")
    before = sum(size(p) for p in matches)
    for path in matches:
        if entry.action == "remove":
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        else:
            subprocess.run([*STRIP, str(path)], check=True)
    after = 0 if entry.action == "remove" else sum(size(p) for p in matches)
    return before - after


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    prune_list, venv = Path(argv[0]), Path(argv[1])
    try:
        root = site_packages(venv)
        for entry in parse(prune_list.read_text(encoding="utf-8")):
            freed = apply(entry, root)
            print(f"{entry.action} {entry.glob}: {freed / 2**20:.1f} MiB")
    except PruneListError as exc:
        print(f"{prune_list}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
