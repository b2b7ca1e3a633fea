"""What loading a version costs the process: its resident memory before and after.

The loader measures the growth of the process's resident set (RSS) across building one
version (unpickling or creating the ONNX session, the self-check, the drift reference), with
loads serialised by the swap lock, so the figure is that version's. Two things would inflate
it and are paid once per process, not per version, so they happen before the first reading:
the runtime's own import (scikit-learn or onnxruntime), and the modules a pickle names
(sklearn.ensemble for a forest, the team's own module for a custom step), which pickle.load
would otherwise import in the middle of the measurement.

The figure is an estimate: other threads (requests to other models) allocate meanwhile, and
the allocator may reuse memory freed earlier. It decides only whether a version fits its
resource class, which is 16 MiB at the least.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickletools
from pathlib import Path

# /proc/self/statm: size resident shared text lib data dirty, in pages (proc(5)).
_STATM = Path("/proc/self/statm")


def resident_bytes() -> int | None:
    """The process's resident set size now; None where /proc is not available."""
    try:
        pages = int(_STATM.read_text(encoding="ascii").split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def growth(before: int | None, after: int | None) -> int | None:
    """What a load added; None when either reading is missing."""
    if before is None or after is None:
        return None
    return max(0, after - before)


_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"}
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
# Framing, not values: a frame may start between the two strings of a STACK_GLOBAL.
_SILENT_OPS = {"PROTO", "FRAME"}


def pickle_modules(path: Path) -> set[str]:
    """The modules a pickle file names (the classes and functions it rebuilds), read from its
    opcodes without running it. STACK_GLOBAL takes its module and name from the two strings
    pushed just before it, written inline or fetched from the memo."""
    modules: set[str] = set()
    memo: dict[int, str | None] = {}
    strings: list[str | None] = []  # the last values pushed, when they were strings
    with path.open("rb") as stream:
        for opcode, argument, _ in pickletools.genops(stream):
            name = opcode.name
            if name == "GLOBAL" and isinstance(argument, str):
                modules.add(argument.split(" ", 1)[0])
            elif name == "STACK_GLOBAL":
                if len(strings) >= 2 and isinstance(strings[-2], str):
                    modules.add(strings[-2])
            elif name in _STRING_OPS:
                strings.append(str(argument))
            elif name in _GET_OPS:
                strings.append(memo.get(int(argument)))
            elif name == "MEMOIZE":
                memo[len(memo)] = strings[-1] if strings else None
            elif name in _PUT_OPS:
                memo[int(argument)] = strings[-1] if strings else None
            elif name in _SILENT_OPS:
                continue
            else:
                strings.append(None)
            del strings[:-2]
    return modules


def import_quietly(modules: set[str]) -> None:
    """Import what unpickling would import, before the measurement starts. A module that
    fails here fails again in pickle.load, which reports it as the load's error."""
    for module in sorted(modules):
        with contextlib.suppress(Exception):
            importlib.import_module(module)
