"""Every file a `kubectl kustomize` of one folder reads, so a render can be reused while none of
them changed: the same folder content renders to the same objects, wherever the folder is
(kustomize resolves everything relative to the kustomization, and validation reports paths
relative to the repository).

Follows the fields that name files or folders (kustomize's kustomization reference):
resources, components, bases, crds, patches[].path, patchesStrategicMerge,
patchesJson6902[].path, replacements[].path, configMapGenerator/secretGenerator files, envs
and env, generators, transformers, validators and openapi.path. A remote resource (a URL)
makes the folder uncacheable: `inputs` returns None.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_LIST_FIELDS = (
    "resources",
    "components",
    "bases",
    "crds",
    "patchesStrategicMerge",
    "generators",
    "transformers",
    "validators",
)


class Remote(ValueError):
    """The kustomization reads something outside the file system."""


def inputs(folder: Path) -> set[Path] | None:
    """The files the render of `folder` reads, or None when one is remote."""
    found: set[Path] = set()
    try:
        _visit(folder.resolve(), found, set())
    except Remote:
        return None
    return found


def fingerprint(folder: Path) -> str | None:
    """A digest of every input's path (relative to `folder`) and content; None if remote."""
    files = inputs(folder)
    if files is None:
        return None
    base = folder.resolve()
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(_relative(path, base).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
        digest.update(b"\0")
    return digest.hexdigest()


def _relative(path: Path, base: Path) -> str:
    # A base two levels up is `../../base/...`: still independent of where the tree lives.
    return Path(os.path.relpath(path, base)).as_posix()


def _visit(folder: Path, found: set[Path], seen: set[Path]) -> None:
    if folder in seen:
        return
    seen.add(folder)
    kustomization = next((folder / n for n in KUSTOMIZATION_FILES if (folder / n).is_file()), None)
    if kustomization is None:
        return  # not a kustomization: kustomize fails, and the failure is not cached
    found.add(kustomization)
    text = kustomization.read_text(encoding="utf-8")
    data = yaml.load(text, Loader=_Loader) or {}  # noqa: S506 (a safe loader, C or Python)
    if not isinstance(data, dict):
        return
    for entry in _entries(data):
        _add(folder, entry, found, seen)


def _entries(data: dict[str, Any]) -> list[str]:
    entries: list[str] = []
    for field in _LIST_FIELDS:
        entries += [e for e in data.get(field) or [] if isinstance(e, str) and "\n" not in e]
    for field in ("patches", "patchesJson6902", "replacements"):
        entries += [e["path"] for e in data.get(field) or [] if isinstance(e, dict) and "path" in e]
    for field in ("configMapGenerator", "secretGenerator"):
        for generator in data.get(field) or []:
            for file in generator.get("files") or []:
                entries.append(str(file).split("=", 1)[-1])
            entries += list(generator.get("envs") or [])
            if generator.get("env"):
                entries.append(generator["env"])
    openapi = data.get("openapi")
    if isinstance(openapi, dict) and openapi.get("path"):
        entries.append(openapi["path"])
    return entries


def _add(folder: Path, entry: str, found: set[Path], seen: set[Path]) -> None:
    if "://" in entry or entry.startswith(("github.com/", "git@")):
        raise Remote(entry)
    path = (folder / entry).resolve()
    if path.is_dir():
        _visit(path, found, seen)
    else:
        found.add(path)
