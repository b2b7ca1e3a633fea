"""Shared fixtures of the manifest validation tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

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


def copy_real_tree(target: Path) -> Path:
    """The manifest folders of this repository (plus training/tenants.yaml) in `target`."""
    for top in ("base", "overlays", "apps", "clusters"):
        if (paths.REPO_ROOT / top).is_dir():
            shutil.copytree(paths.REPO_ROOT / top, target / top)
    tenants = paths.REPO_ROOT / "training" / "tenants.yaml"
    if tenants.is_file():
        (target / "training").mkdir(parents=True, exist_ok=True)
        shutil.copy2(tenants, target / "training" / "tenants.yaml")
    return target


def edit_yaml(path: Path, change: Callable[[list[dict[str, Any]]], None]) -> None:
    """Load every document of `path`, let `change` mutate them, write them back."""
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    change(docs)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")


def problems(report: Report, check: str) -> str:
    return "\n".join(str(f) for f in report.by_check(check))


@pytest.fixture(scope="session")
def real_tree_report() -> Report:
    """Every check, checkov included, over this repository: run once per session."""
    return validate_repo(paths.REPO_ROOT)


__all__ = ["copy_real_tree", "edit_yaml", "problems", "validate_repo"]
