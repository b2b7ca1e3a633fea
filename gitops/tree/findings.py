"""What a check reports: one problem, located well enough to fix without a debugger."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Finding:
    check: str
    where: str  # kustomization folder, Application or file, relative to the repo
    obj: str  # "Kind namespace/name", empty when the finding is about a file or folder
    problem: str
    expected: str = ""

    def __str__(self) -> str:
        text = f"{self.where}: {self.obj + ': ' if self.obj else ''}{self.problem}"
        return f"{text} (expected: {self.expected})" if self.expected else text


def obj_ref(obj: dict[str, Any]) -> str:
    """`Kind namespace/name` (or `Kind name` for objects without a namespace)."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    name = meta.get("name", "<unnamed>")
    return f"{obj.get('kind', '<no kind>')} {namespace + '/' if namespace else ''}{name}"


def namespace_of(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def name_of(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def annotations_of(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def labels_of(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})
