"""The `argo` check (gitops/checks/argo.py, findings of gitops/tree/app_tree.py) catches the
fault it exists for: each test plants one fault into a copy of fixtures/good-repo (a small,
complete, valid repository) and expects the check, with a message naming the object, to fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.gitops.tree_copies import edit_yaml, problems, validate


def test_application_path_that_does_not_exist(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["source"]["path"] = "overlays/kind/minoi"

    edit_yaml(good_repo / "apps/kind/minio.yaml", plant)
    found = problems(validate(good_repo, "argo"), "argo")
    assert "Application argocd/minio: source path 'overlays/kind/minoi' does not exist" in found


@pytest.mark.parametrize("revision", ["*", "77.x", "^77.0.0", ">=77.0.0", "latest", ""])
def test_helm_chart_not_pinned(good_repo: Path, revision: str) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["source"]["targetRevision"] = revision

    edit_yaml(good_repo / "apps/kind/monitoring.yaml", plant)
    found = problems(validate(good_repo, "argo"), "argo")
    assert "chart kube-prometheus-stack targetRevision" in found
    assert "is not pinned" in found
