"""Find every kustomization in the repository and render each with the pinned kubectl."""

from __future__ import annotations

import copy
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops.tree.kustomize_inputs import fingerprint
from gitops.tree.render import RenderError, render

# Top-level folders that hold kustomizations; anything else (tests, service, ...) is not deployed.
MANIFEST_ROOTS = ("base", "overlays", "apps", "clusters")
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass
class Rendered:
    path: Path  # folder of the kustomization
    rel: str  # the folder relative to the repo root, for messages
    objects: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def is_kustomization(folder: Path) -> bool:
    return any((folder / name).is_file() for name in KUSTOMIZATION_FILES)


def discover(repo_root: Path) -> list[Path]:
    found = []
    for top in MANIFEST_ROOTS:
        base = repo_root / top
        if not base.is_dir():
            continue
        for dirpath, dirnames, _files in os.walk(base):
            dirnames.sort()
            if is_kustomization(Path(dirpath)):
                found.append(Path(dirpath))
    return found


# fingerprint of a kustomization's inputs -> its rendered objects, for this process: a folder
# whose inputs did not change (another copy of the same tree, a fault planted elsewhere)
# is not rendered again. Failed renders are not kept.
_RENDERED: dict[str, list[dict[str, Any]]] = {}


def render_one(path: Path, repo_root: Path) -> Rendered:
    rel = relative(path, repo_root)
    key = fingerprint(path)
    if key is not None and key in _RENDERED:
        return Rendered(path, rel, copy.deepcopy(_RENDERED[key]))
    try:
        objects = render(path)
        if key is not None:
            _RENDERED[key] = copy.deepcopy(objects)
        return Rendered(path, rel, objects)
    except RenderError as exc:
        return Rendered(path, rel, error=str(exc).replace(str(repo_root) + os.sep, ""))
    except Exception as exc:  # YAML kustomize emitted but PyYAML refuses: still a build failure
        return Rendered(path, rel, error=f"{rel}: {exc}")


def render_all(paths: list[Path], repo_root: Path) -> dict[Path, Rendered]:
    # kubectl is a separate process per folder: a couple of threads keep both cores busy.
    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        results = list(pool.map(lambda p: render_one(p, repo_root), paths))
    return {r.path: r for r in results}


def relative(path: Path, repo_root: Path) -> str:
    try:
        return str(path.resolve().relative_to(repo_root.resolve())) or "."
    except ValueError:
        return str(path)
