"""The `sync-waves` check (gitops/checks/sync_waves.py) catches the fault it exists for: each
test plants one fault into a copy of fixtures/good-repo (a small, complete, valid repository)
and expects the check, with a message naming the object, to fail."""

from __future__ import annotations

from pathlib import Path

from tests.gitops.tree_copies import edit_yaml, problems, validate


def test_wave_order_broken(good_repo: Path) -> None:
    edit_yaml(
        good_repo / "apps/kind/mlflow.yaml",
        lambda d: d[0]["metadata"]["annotations"].update({"argocd.argoproj.io/sync-wave": "0"}),
    )
    found = problems(validate(good_repo, "sync-waves"), "sync-waves")
    assert "registry sync wave 0 is not after storage wave 1" in found
