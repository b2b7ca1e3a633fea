"""The two ways a command fails on purpose; the CLI maps them to exit codes without a traceback."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input (unknown tenant, model, version, alias, overlay, a port already in use ...):
    exit code 2."""


class OperationError(Exception):
    """The environment or registry state refused the operation (unreachable MLflow,
    failed quality gate, nothing to roll back to ...): exit code 1."""


def one_of(kind: str, value: str, valid: list[str] | tuple[str, ...], of: str = "") -> UsageError:
    """A UsageError that names the field and lists the values that would have worked."""
    listed = ", ".join(sorted(valid, key=lambda v: (len(v), v))) if valid else "(none)"
    where = f" of {of}" if of else ""
    return UsageError(f"unknown {kind} {value!r}{where}; valid: {listed}")
