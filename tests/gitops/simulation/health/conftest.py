"""Fixtures of the health tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gitops.simulation.health.support import NO_SCRIPTS, SCRIPTS_DIR


@pytest.fixture
def scripts_dir() -> Path:
    """Argo CD's built-in health scripts (resource_customizations/ layout), or a skip."""
    if SCRIPTS_DIR is None:
        pytest.skip(NO_SCRIPTS)
    return SCRIPTS_DIR


@pytest.fixture
def empty_scripts(tmp_path: Path) -> Path:
    """A scripts folder without any script: only the built-in Go checks and overrides apply."""
    folder = tmp_path / "resource_customizations"
    folder.mkdir()
    return folder
