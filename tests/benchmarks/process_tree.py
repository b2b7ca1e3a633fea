"""Resident memory of a server and everything it spawned, read from /proc (no psutil here)."""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def _status_fields(pid: int) -> dict[str, str]:
    fields = {}
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _children(proc: Path) -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int, proc: Path = PROC) -> list[int]:
    """pid and every process below it."""
    tree = _children(proc)
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(tree.get(current, []))
    return found


def tree_rss_bytes(pid: int) -> tuple[int, int]:
    """(sum of VmRSS over the tree, largest single VmRSS), in bytes."""
    sizes = []
    for member in descendants(pid):
        try:
            rss = _status_fields(member).get("VmRSS", "0 kB")
        except OSError:
            continue  # exited meanwhile
        sizes.append(int(rss.split()[0]) * 1024)
    return sum(sizes), max(sizes, default=0)


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time consumed so far by the live processes of the tree."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in descendants(pid):
        try:
            fields = (PROC / str(member) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After "pid (comm)": state ppid ... utime is field 14 and stime 15 of the full line.
        total += int(fields[11]) + int(fields[12])
    return total / ticks
