"""What loading a version costs the process: its resident memory before and after.

The loader measures the growth of the process's resident set (RSS) across building one
version (unpickling or creating the ONNX session, the self-check, the drift reference), with
loads serialised by the swap lock, so the figure is that version's. Two things would inflate
it and are paid once per process, not per version, so they happen before the first reading:
the runtime's own import (scikit-learn or onnxruntime), and the modules a pickle names
(sklearn.ensemble for a forest, the team's own module for a custom step), which pickle.load
would otherwise import in the middle of the measurement.

The figure is an estimate: other threads (requests to other models) allocate meanwhile, and
the allocator may reuse memory freed earlier (returned to the system first where glibc allows,
and the pickle is scanned without reading its payloads). It decides only whether a version
fits its resource class, which is 16 MiB at the least.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import io
import os
import pickletools
from pathlib import Path
from typing import Any, BinaryIO

# /proc/self/statm: size resident shared text lib data dirty, in pages (proc(5)).
_STATM = Path("/proc/self/statm")


def resident_bytes() -> int | None:
    """The process's resident set size now; None where /proc is not available."""
    try:
        pages = int(_STATM.read_text(encoding="ascii").split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _malloc_trim() -> Any:
    """glibc's malloc_trim from the symbols the process already has; None elsewhere (musl,
    macOS), where settle() does nothing."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()


def settle() -> None:
    """Hand freed heap memory back to the system (glibc's malloc_trim), so memory freed before
    a load is not silently reused by it and left out of its cost. No garbage collection here:
    a full one holds the GIL for a tenth of a second in a process with scikit-learn loaded,
    which every request in flight would wait for."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def growth(before: int | None, after: int | None) -> int | None:
    """What a load added; None when either reading is missing."""
    if before is None or after is None:
        return None
    return max(0, after - before)


# Argument sizes pickletools gives its opcodes (ArgumentDescriptor.n): a fixed count of bytes,
# or one of these.
_UP_TO_NEWLINE, _LENGTH1, _LENGTH4, _LENGTH4U, _LENGTH8U = -1, -2, -3, -4, -5
_LENGTH_BYTES = {_LENGTH1: 1, _LENGTH4: 4, _LENGTH4U: 4, _LENGTH8U: 8}
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"}
_INT_OPS = {"GET", "BINGET", "LONG_BINGET", "PUT", "BINPUT", "LONG_BINPUT"}
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
# Framing, not values: a frame may start between the two strings of a STACK_GLOBAL.
_SILENT_OPS = {"PROTO", "FRAME"}
# A module name is short; a longer string is skipped unread.
_LONGEST_NAME = 4096


def _argument(stream: BinaryIO, op: pickletools.OpcodeInfo) -> str | int | None:
    """The opcode's argument when it may matter here (a string, a memo index), else None;
    binary payloads (numpy arrays, most of a model file) are skipped without being read, so
    scanning allocates next to nothing (freed memory the allocator kept would otherwise be
    reused by the load and hide part of its cost)."""
    described = op.arg
    if described is None:
        return None
    size = described.n
    if size == _UP_TO_NEWLINE:
        line = stream.readline().decode("latin-1").rstrip("\n")
        if op.name in ("GLOBAL", "INST"):  # two lines: module, then name
            stream.readline()
        return line
    if size >= 0:
        raw = stream.read(size)
        return int.from_bytes(raw, "little") if op.name in _INT_OPS else None
    length = int.from_bytes(stream.read(_LENGTH_BYTES[size]), "little")
    if op.name in _STRING_OPS and length <= _LONGEST_NAME:
        return stream.read(length).decode("utf-8", "replace")
    stream.seek(length, io.SEEK_CUR)
    return None


def pickle_modules(path: Path) -> set[str]:
    """The modules a pickle file names (the classes and functions it rebuilds), read from its
    opcodes without running it. GLOBAL and INST carry the module; STACK_GLOBAL takes it from
    the two strings pushed just before it, written inline or fetched from the memo."""
    modules: set[str] = set()
    memo: dict[int, str | None] = {}
    strings: list[str | None] = []  # the last values pushed, when they were strings
    with path.open("rb") as stream:
        while code := stream.read(1):
            op = pickletools.code2op.get(code.decode("latin-1"))
            if op is None:
                raise ValueError(f"not a pickle opcode: {code!r}")
            argument = _argument(stream, op)
            name = op.name
            if name == "STOP":
                break
            if name in ("GLOBAL", "INST") and isinstance(argument, str):
                modules.add(argument)
            elif name == "STACK_GLOBAL":
                if len(strings) >= 2 and isinstance(strings[-2], str):
                    modules.add(strings[-2])
            elif name in _STRING_OPS:
                strings.append(argument if isinstance(argument, str) else None)
            elif name in _GET_OPS:
                strings.append(memo.get(int(argument or 0)))
            elif name == "MEMOIZE":
                memo[len(memo)] = strings[-1] if strings else None
            elif name in _PUT_OPS:
                memo[int(argument or 0)] = strings[-1] if strings else None
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
