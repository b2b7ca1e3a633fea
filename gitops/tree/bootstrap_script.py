"""What a cluster's bootstrap script creates before Argo CD takes over: the namespaces and
Secrets made by its `ensure_namespace NS` and `ensure_secret NS NAME ...` calls
(clusters/<cluster>/bootstrap.sh), read from the script so no second list exists.

A call inside `for VAR in WORDS; do ... done` runs once per word; `$(inventory --tenants)`
(the script's own helper) stands for every tenant of the cluster. The `bootstraps` check runs
the scripts against recording stand-ins and so proves the calls really happen.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

_FOR = re.compile(r"^\s*for\s+(?P<var>\w+)\s+in\s+(?P<words>.+?);\s*do\s*$")
_DONE = re.compile(r"^\s*done\b")
_CALL = re.compile(r"^\s*(?P<fn>ensure_namespace|ensure_secret)\s+(?P<args>.+)$")
_TENANTS = "$(inventory --tenants)"


@dataclass
class BootstrapCreates:
    namespaces: set[str] = field(default_factory=set)
    secrets: set[tuple[str, str]] = field(default_factory=set)  # (namespace, name)


def script_path(root: Path, cluster: str) -> Path:
    return root / "clusters" / cluster / "bootstrap.sh"


def read(root: Path, cluster: str, tenants: frozenset[str]) -> BootstrapCreates:
    path = script_path(root, cluster)
    creates = BootstrapCreates()
    if not path.is_file():
        return creates
    loops: list[tuple[str, list[str]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := _FOR.match(line):
            words = match["words"].strip()
            values = sorted(tenants) if words == _TENANTS else shlex.split(words)
            loops.append((match["var"], values))
            continue
        if _DONE.match(line) and loops:
            loops.pop()
            continue
        call = _CALL.match(line)
        if not call:
            continue
        args = [a for a in shlex.split(call["args"].rstrip("\\").strip()) if not a.startswith("-")]
        if not args:
            continue
        namespaces = _expand(args[0], loops)
        if call["fn"] == "ensure_namespace":
            creates.namespaces.update(namespaces)
        elif len(args) >= 2:
            creates.secrets.update((ns, args[1]) for ns in namespaces)
    return creates


def _expand(word: str, loops: list[tuple[str, list[str]]]) -> list[str]:
    """A literal namespace, or every value of the loop variable it names."""
    variable = word.removeprefix("$").strip("{}")
    for name, values in reversed(loops):
        if word.startswith("$") and variable == name:
            return values
    return [] if word.startswith("$") else [word]
