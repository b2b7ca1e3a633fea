"""Checks that register themselves: `validate` loops over REGISTRY, so adding a check is one
new module in this package and touches nothing else.

A check is a function of the validation Context (everything rendered once per run) that
yields Findings. Register it with `@register(name, proves)`; `proves` is the one line the
summary prints for a passing check.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops.tree.app_tree import ClusterTree
from gitops.tree.crds import CrdSet
from gitops.tree.findings import Finding
from gitops.tree.kustomizations import Rendered


@dataclass
class Context:
    """What one validation run has rendered and derived, shared by every check."""

    root: Path
    rendered: dict[Path, Rendered]
    trees: list[ClusterTree]
    tenants: dict[str, frozenset[str]]  # cluster -> tenant namespaces
    crds: CrdSet
    # Example values (account ids, example.com hosts) are accepted only when this is set
    # (CI validates the tree as shipped; a real cluster's tree must not carry them).
    allow_examples: bool = False
    cache: dict[str, Any] = field(default_factory=dict)

    def tree(self, cluster: str) -> ClusterTree | None:
        return next((t for t in self.trees if t.cluster == cluster), None)


CheckFunction = Callable[[Context], Iterable[Finding]]


@dataclass(frozen=True)
class Check:
    name: str
    proves: str
    run: CheckFunction
    # Mostly waits on other processes (scripts, stand-ins): validate runs it in a thread
    # beside the other checks instead of after them.
    background: bool = False


REGISTRY: dict[str, Check] = {}


def register(
    name: str, proves: str, *, background: bool = False
) -> Callable[[CheckFunction], CheckFunction]:
    def add(function: CheckFunction) -> CheckFunction:
        if name in REGISTRY:
            raise ValueError(f"check {name!r} registered twice")
        REGISTRY[name] = Check(name, proves, function, background)
        return function

    return add


def load_all() -> dict[str, Check]:
    """Import every module of this package once, so each registers its checks."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return REGISTRY
