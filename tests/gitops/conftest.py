"""Shared fixtures of the manifest validation tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitops import paths
from gitops.validate import Report, validate_repo

FIXTURES = Path(__file__).parent / "fixtures"
GOOD_REPO = FIXTURES / "good-repo"


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
