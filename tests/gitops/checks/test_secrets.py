"""The `secrets` check (gitops/checks/secrets.py) catches the fault it exists for: each test
plants one fault into a copy of fixtures/good-repo (a small, complete, valid repository) and
expects the check, with a message naming the object, to fail."""

from __future__ import annotations

from pathlib import Path

from tests.gitops.tree_copies import TENANT, edit_yaml, problems, validate


def test_secret_with_data_rendered_and_committed(good_repo: Path) -> None:
    (good_repo / "overlays/kind/mlflow/secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: x\n",
        encoding="utf-8",
    )
    edit_yaml(
        good_repo / "overlays/kind/mlflow/kustomization.yaml",
        lambda d: d[0]["resources"].append("secret.yaml"),
    )
    found = problems(validate(good_repo, "secrets"), "secrets")
    assert "Secret mlflow/creds: Secret with data/stringData in rendered output" in found
    assert "overlays/kind/mlflow/secret.yaml: Secret creds: committed Secret" in found


def test_secret_generator_is_rendered_secret_data(good_repo: Path) -> None:
    edit_yaml(
        good_repo / TENANT / "kustomization.yaml",
        lambda d: d[0].update(secretGenerator=[{"name": "s", "literals": ["password=x"]}]),
    )
    found = problems(validate(good_repo, "secrets"), "secrets")
    assert "Secret tenant-a/s-" in found
