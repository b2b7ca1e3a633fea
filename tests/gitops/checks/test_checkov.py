"""The `checkov` check (gitops/checks/checkov/) catches the fault it exists for: each test
plants one fault into a copy of fixtures/good-repo (a small, complete, valid repository) and
expects the check, with a message naming the object, to fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitops.validate import validate_repo
from tests.gitops.tree_copies import DEPLOYMENT, container, edit_yaml, problems


def test_checkov_failure_is_reported_with_check_id(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        c = container(docs)
        c["image"] = "ghcr.io/example-org/ml-inference-platform/inference-service:latest"
        c.pop("livenessProbe")

    edit_yaml(good_repo / DEPLOYMENT, plant)
    found = problems(validate_repo(good_repo, ["checkov"]), "checkov")
    assert "Deployment tenant-a/inference-service: CKV_K8S_8" in found  # liveness probe
    assert "CKV_K8S_14" in found  # image tag latest
