"""Measurement, not in the default run (`pytest tests/gitops -m slow -s`): render and
validate the whole tree, then again after scaffolding 50 tenants into a copy of it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gitops import paths
from gitops.scaffold_tenant import main as scaffold
from gitops.validate import validate_repo
from tests.gitops.tree_copies import copy_real_tree

TENANTS = 50


@pytest.mark.slow
def test_validate_time_real_tree_and_with_50_more_tenants(tmp_path: Path) -> None:
    start = time.perf_counter()
    report = validate_repo(paths.REPO_ROOT)
    base_seconds = time.perf_counter() - start
    assert report.ok, "\n".join(map(str, report.findings))

    repo = copy_real_tree(tmp_path / "repo")
    for index in range(TENANTS):
        assert scaffold(["--repo", str(repo), "--no-validate", f"scale-{index:02d}"]) == 0
    start = time.perf_counter()
    scaled = validate_repo(repo)
    scaled_seconds = time.perf_counter() - start
    assert scaled.ok, "\n".join(map(str, scaled.findings[:20]))
    print(
        f"\nreal tree: {base_seconds:.1f}s {report.stats} {report.seconds}"
        f"\n+{TENANTS} tenants: {scaled_seconds:.1f}s {scaled.stats} {scaled.seconds}"
    )
