"""The `schemas` check (gitops/checks/schemas.py) catches the fault it exists for: each test
plants one fault into a copy of fixtures/good-repo (a small, complete, valid repository) and
expects the check, with a message naming the object, to fail."""

from __future__ import annotations

from pathlib import Path

from tests.gitops.tree_copies import DEPLOYMENT, container, edit_yaml, problems, validate


def test_unknown_kind(good_repo: Path) -> None:
    (good_repo / "overlays/kind/minio/configmap.yaml").write_text(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n", encoding="utf-8"
    )
    found = problems(validate(good_repo, "schemas"), "schemas")
    assert "Widget minio/w: no schema for kind Widget" in found


def test_removed_api_version(good_repo: Path) -> None:
    edit_yaml(good_repo / DEPLOYMENT, lambda d: d[0].update(apiVersion="extensions/v1beta1"))
    found = problems(validate(good_repo, "schemas"), "schemas")
    assert "Deployment tenant-a/inference-service" in found
    assert "apiVersion extensions/v1beta1" in found


def test_unknown_field_in_core_object(good_repo: Path) -> None:
    edit_yaml(good_repo / DEPLOYMENT, lambda d: container(d).update(imagePullPolice="Always"))
    found = problems(validate(good_repo, "schemas"), "schemas")
    assert "spec.template.spec.containers.0" in found
    assert "imagePullPolice" in found
