"""`secrets`: no Secret carries data: not in any rendered output, not in any file of the repository.
Credentials reach clusters through bootstrap (Kind) or ExternalSecrets (EKS)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from gitops.checks import Context, register
from gitops.tree.findings import Finding, obj_ref

CHECK = "secrets"
_SKIP_DIRS = frozenset(
    {
        ".git",
        ".venv",
        ".tools",
        ".run",
        "node_modules",
        "__pycache__",
        ".pytest_cache",
        ".ruff_cache",
        ".mypy_cache",
    }
)
_SUFFIXES = (".yaml", ".yml", ".json")
_MENTIONS_SECRET = re.compile(r"""["']?kind["']?\s*:\s*["']?Secret\b""")
_MAX_BYTES = 2_000_000


def _has_data(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and obj.get("kind") == "Secret"
        and bool(obj.get("data") or obj.get("stringData"))
    )


@register(CHECK, "no Secret with data rendered or committed", order=90, generic=True)
def check(ctx: Context) -> Iterator[Finding]:
    for where, objects in ctx.outputs:
        yield from check_rendered(objects, where)
    yield from check_files(ctx.root)


def check_rendered(objects: list[dict[str, Any]], where: str) -> list[Finding]:
    return [
        Finding(
            CHECK,
            where,
            obj_ref(obj),
            "Secret with data/stringData in rendered output",
            "no Secret data in git: an ExternalSecret (EKS) or the Kind bootstrap creates it",
        )
        for obj in objects
        if _has_data(obj)
    ]


def check_files(repo_root: Path) -> list[Finding]:
    findings = []
    for dirpath, dirnames, filenames in os.walk(repo_root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            if not filename.endswith(_SUFFIXES) or path.stat().st_size > _MAX_BYTES:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            if not _MENTIONS_SECRET.search(text):
                continue
            try:
                docs = list(yaml.safe_load_all(text))
            except yaml.YAMLError:
                continue  # not parseable YAML (templates, ...): yamllint reports those
            rel = str(path.relative_to(repo_root))
            findings += [
                Finding(
                    CHECK,
                    rel,
                    obj_ref(doc),
                    "committed Secret with data/stringData",
                    "no Secret data in git",
                )
                for doc in docs
                if _has_data(doc)
            ]
    return findings
