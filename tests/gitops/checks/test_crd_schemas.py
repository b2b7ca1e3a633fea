"""The `crd-schemas` check (gitops/checks/crd_schemas.py) catches the fault it exists for: each
test plants one fault into a copy of fixtures/good-repo (a small, complete, valid repository)
and expects the check, with a message naming the object, to fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.gitops.tree_copies import edit_yaml, problems, validate


def test_unknown_field_in_application_spec(good_repo: Path) -> None:
    edit_yaml(good_repo / "apps/kind/minio.yaml", lambda d: d[0]["spec"].update(syncWave=1))
    found = problems(validate(good_repo, "crd-schemas"), "crd-schemas")
    assert "Application argocd/minio: spec: Additional properties" in found
    assert "syncWave" in found


def test_unknown_field_in_generated_application(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["template"]["spec"]["source"]["pathh"] = "x"

    edit_yaml(good_repo / "apps/kind/tenants.yaml", plant)
    found = problems(validate(good_repo, "crd-schemas"), "crd-schemas")
    assert "pathh" in found


def test_api_version_not_served_by_crd(good_repo: Path) -> None:
    edit_yaml(
        good_repo / "base/inference/servicemonitor.yaml",
        lambda d: d[0].update(apiVersion="monitoring.coreos.com/v1beta7"),
    )
    found = problems(validate(good_repo, "crd-schemas"), "crd-schemas")
    assert "ServiceMonitor" in found
    assert "is not served by the CRD" in found
