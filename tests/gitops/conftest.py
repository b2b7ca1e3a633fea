"""Shared fixtures of the manifest validation tests."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import gitops.checks
from gitops import paths
from gitops.validate import Report, validate_repo

FIXTURES = Path(__file__).parent / "fixtures"
GOOD_REPO = FIXTURES / "good-repo"

# Copies of the real tree (tree_copies.py) have no .git: the `image-commits` check reads the
# history of the repository they were copied from (gitops/settings.py).
os.environ.setdefault("GITOPS_GIT_HISTORY", str(paths.REPO_ROOT))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: measurements, not part of the default run")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("-m") and "slow" in config.getoption("-m"):
        return
    skip = pytest.mark.skip(reason="slow measurement: run with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def good_repo(tmp_path: Path) -> Path:
    """A copy of the small, complete and valid repository under fixtures/good-repo."""
    target = tmp_path / "repo"
    shutil.copytree(GOOD_REPO, target)
    return target


@pytest.fixture(scope="session")
def real_tree_report() -> Report:
    """Every check, checkov included, over this repository: run once per session."""
    return validate_repo(paths.REPO_ROOT)


@pytest.fixture
def plant_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str, str], None]]:
    """plant_check(module, source): `source` as one more module of gitops.checks for this
    test, written to a folder that joins the package's path, so the registry finds it as it
    finds a check in gitops/checks/. What it registers is forgotten afterwards."""
    folder = tmp_path / "planted_checks"
    folder.mkdir()
    monkeypatch.setattr(gitops.checks, "__path__", [*gitops.checks.__path__, str(folder)])
    monkeypatch.setattr(gitops.checks, "REGISTRY", dict(gitops.checks.REGISTRY))
    planted: list[str] = []

    def plant(module: str, source: str) -> None:
        (folder / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        planted.append(f"gitops.checks.{module}")

    yield plant
    for name in planted:
        sys.modules.pop(name, None)
