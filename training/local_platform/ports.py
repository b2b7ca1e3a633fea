"""Loopback port checks for the local platform."""

from __future__ import annotations

import socket

from training.errors import UsageError


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As servers do: a port whose old connections linger in TIME_WAIT is free to listen on.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def require_free(port: int, what: str, how_to_change: str) -> None:
    if not is_free(port):
        raise UsageError(f"port {port} ({what}) is already in use on 127.0.0.1; {how_to_change}")


def free_port() -> int:
    """A port the OS considers free right now (tests and ad-hoc servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
