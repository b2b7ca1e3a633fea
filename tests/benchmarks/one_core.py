"""One core for the server, the others for the load: how the floor pairs are measured.

A tenant pod gets one core, so what the issue measures is requests per core. Left to the
scheduler, a server and wrk share every core of this small machine: the server's share of
the CPU then depends on how busy wrk is (far busier against the floor's fixed answers than
against this service), and req/s measures the scheduler as much as the server. Pinned, every
thread of the server (and of its children) runs on one core and the load generator on the
rest, for this service and the floor alike: req/s is then what one core answers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.benchmarks.process_tree import PROC, descendants


@dataclass(frozen=True)
class CoreLayout:
    """The core the server gets and the cores the load generator gets."""

    server: frozenset[int]
    load: frozenset[int]

    def describe(self) -> str:
        return (
            f"server pinned to CPU {_cpus(self.server)}, load generator to CPU {_cpus(self.load)}"
        )


def _cpus(cpus: frozenset[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def layout(available: set[int] | None = None) -> CoreLayout | None:
    """The last core for the server, the others for the load; None below two cores, where
    pinning would put both on one core."""
    cpus = sorted(os.sched_getaffinity(0) if available is None else available)
    if len(cpus) < 2:
        return None
    return CoreLayout(server=frozenset(cpus[-1:]), load=frozenset(cpus[:-1]))


def threads(pid: int, proc: Path = PROC) -> list[int]:
    """Every thread of `pid` and of its descendants."""
    found: dict[int, None] = {}  # ordered, and each thread once
    for process in dict.fromkeys((pid, *descendants(pid, proc))):
        try:
            found.update(dict.fromkeys(int(t) for t in os.listdir(proc / str(process) / "task")))
        except FileNotFoundError:  # gone meanwhile
            continue
    return list(found)


def _set(tid: int, cpus: set[int] | frozenset[int]) -> set[int] | None:
    """Pin one thread; its affinity before, or None when it is gone."""
    try:
        before = os.sched_getaffinity(tid)
        os.sched_setaffinity(tid, cpus)
    except (ProcessLookupError, PermissionError):
        return None
    return before


@contextmanager
def pinned(server_pids: list[int], cores: CoreLayout) -> Iterator[None]:
    """Every thread of the servers on the server core, this process (and so the load
    generator it starts, which inherits its affinity) on the load cores; restored after."""
    own = os.sched_getaffinity(0)
    saved: dict[int, set[int]] = {}
    for pid in server_pids:
        for tid in threads(pid):
            before = _set(tid, cores.server)
            if before is not None:
                saved.setdefault(tid, before)  # two servers may share a child: the first
    os.sched_setaffinity(0, cores.load)
    try:
        yield
    finally:
        os.sched_setaffinity(0, own)
        for tid, before in saved.items():
            _set(tid, before)
