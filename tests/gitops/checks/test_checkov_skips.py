"""The `checkov-skips` check (gitops/checks/checkov_skips.py) catches the fault it exists for:
each test plants one fault into a copy of fixtures/good-repo (a small, complete, valid
repository) and expects the check, with a message naming the object, to fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.gitops.tree_copies import DEPLOYMENT, edit_yaml, problems, validate


def test_unjustified_checkov_skip(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["metadata"]["annotations"] = {"checkov.io/skip1": "CKV_K8S_14"}

    edit_yaml(good_repo / DEPLOYMENT, plant)
    found = problems(validate(good_repo, "checkov-skips"), "checkov-skips")
    assert "annotation checkov.io/skip1='CKV_K8S_14' has no reason" in found
