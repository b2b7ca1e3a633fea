"""Object identity in the simulated API server: (API group, kind, namespace, name)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Key:
    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    @property
    def group_kind(self) -> tuple[str, str]:
        return self.group, self.kind


def group_of(obj: dict[str, Any]) -> str:
    """The API group of an object ("" for the core group)."""
    api_version = str(obj.get("apiVersion", ""))
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def key_of(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return Key(
        group_of(obj),
        str(obj.get("kind", "")),
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
    )
