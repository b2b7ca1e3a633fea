"""The floor pairs' pinning: the server's threads on one core, the load on the others, and
everything as it was afterwards."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.benchmarks import one_core

# A child with a second thread, started before pinning, so pinning must reach threads that
# already exist (onnxruntime's and the model thread's), not only the process's first.
CHILD = (
    "import threading, time; "
    "threading.Thread(target=time.sleep, args=(60,)).start(); time.sleep(60)"
)


def test_the_last_core_serves_and_the_others_load() -> None:
    cores = one_core.layout({0, 1, 2, 3})
    assert cores is not None
    assert cores.server == {3}
    assert cores.load == {0, 1, 2}
    assert "server pinned to CPU 3" in cores.describe()


def test_one_core_is_not_split() -> None:
    assert one_core.layout({5}) is None


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning needs two cores")
def test_every_thread_of_the_server_is_pinned_and_restored() -> None:
    cores = one_core.layout()
    assert cores is not None
    own = os.sched_getaffinity(0)
    child = subprocess.Popen([sys.executable, "-c", CHILD])
    try:
        while len(one_core.threads(child.pid)) < 2:
            pass
        before = {tid: os.sched_getaffinity(tid) for tid in one_core.threads(child.pid)}
        with one_core.pinned([child.pid], cores):
            assert {tid: os.sched_getaffinity(tid) for tid in before} == dict.fromkeys(
                before, cores.server
            )
            assert os.sched_getaffinity(0) == cores.load
            # The load generator inherits the load cores.
            shown = subprocess.run(
                [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            assert shown.strip() == str(sorted(cores.load))
        assert {tid: os.sched_getaffinity(tid) for tid in before} == before
        assert os.sched_getaffinity(0) == own
    finally:
        child.kill()
        child.wait()
