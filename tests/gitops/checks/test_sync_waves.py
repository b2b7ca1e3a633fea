"""The `sync-waves` check (gitops/checks/sync_waves.py) catches the fault it exists for: each
test plants one fault into a copy of fixtures/good-repo (a small, complete, valid repository)
and expects the check, with a message naming the object, to fail."""

from __future__ import annotations

from pathlib import Path

from gitops.validate import validate_repo
from tests.gitops.tree_copies import copy_real_tree, edit_yaml, problems, validate


def test_wave_order_broken(good_repo: Path) -> None:
    edit_yaml(
        good_repo / "apps/kind/mlflow.yaml",
        lambda d: d[0]["metadata"]["annotations"].update({"argocd.argoproj.io/sync-wave": "0"}),
    )
    found = problems(validate(good_repo, "sync-waves"), "sync-waves")
    assert "registry sync wave 0 is not after storage wave 1" in found


def test_rollout_judge_beside_the_tenant_kits(tmp_path: Path) -> None:
    """Waves are barriers: the judge, which nothing needs, must sync after the tenants, or a
    judge that never turns Healthy keeps the tenants from ever being applied."""
    repo = copy_real_tree(tmp_path / "repo")
    assert problems(validate_repo(repo, ["sync-waves"]), "sync-waves") == ""
    edit_yaml(
        repo / "apps/base/rollout-judge.yaml",
        lambda d: d[0]["metadata"]["annotations"].update({"argocd.argoproj.io/sync-wave": "5"}),
    )
    found = problems(validate_repo(repo, ["sync-waves"]), "sync-waves")
    assert (
        "Application argocd/rollout-judge: rollouts sync wave 5 is not after tenants wave 6"
        in found
    )
    assert "(expected: rollouts after registry and monitoring and tenants)" in found
