"""The `render` check (gitops/checks/render.py) catches the fault it exists for: each test
plants one fault into a copy of fixtures/good-repo (a small, complete, valid repository) and
expects the check, with a message naming the object, to fail."""

from __future__ import annotations

from pathlib import Path

from tests.gitops.tree_copies import TENANT, problems, validate


def test_kustomization_that_fails_to_build(good_repo: Path) -> None:
    (good_repo / TENANT / "kustomization.yaml").write_text(
        "resources:\n  - does-not-exist.yaml\n", encoding="utf-8"
    )
    report = validate(good_repo, "render")
    assert "overlays/kind/tenants/tenant-a: kustomize build failed" in problems(report, "render")
