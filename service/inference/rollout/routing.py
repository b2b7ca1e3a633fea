"""Which version answers a request during a rollout.

A canary sends `weight` percent of requests to the candidate. With a routing key (the
policy's header), the key's SHA-256 is read as a number in [0, 1) and compared with the
share: the same key lands on the same version on every replica, and raising the weight only
moves keys from stable to candidate, never back. Without a key, each replica sends exactly
`weight` of every 100 requests to the candidate (a running share rather than a coin toss), so
the split is exact however many replicas share the traffic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from inference.models.model import ServedModel

SHADOW = "shadow"
CANARY = "canary"


@dataclass(frozen=True)
class Route:
    candidate: ServedModel
    mode: str  # shadow or canary
    weight: int  # percent of requests the candidate answers in canary mode
    step: int


def key_share(key: str) -> float:
    """The key's place in [0, 1): the same on every replica and every run."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class Router:
    def __init__(self, header: str) -> None:
        self.header = header.lower()
        self.route: Route | None = None
        self._running = 0  # keyless requests: percent points owed to the candidate

    def set(self, route: Route | None) -> None:
        self.route = route

    def to_candidate(self, route: Route, headers: Mapping[str, str]) -> bool:
        if route.mode != CANARY:
            return False
        key = headers.get(self.header)
        if key:
            return key_share(key) < route.weight / 100
        self._running += route.weight
        if self._running >= 100:
            self._running -= 100
            return True
        return False
