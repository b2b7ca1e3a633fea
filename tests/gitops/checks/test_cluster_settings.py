"""The `cluster-settings` check: example values fail outside example mode, every placeholder
is replaced, and eksctl's config uses only defined settings (faults planted in copies of the
real tree)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops.tree.repository_url import rewrite
from gitops.validate import validate_repo
from tests.gitops.tree_copies import copy_real_tree, edit_yaml, problems

CHECK = "cluster-settings"
SETTINGS = Path("clusters/eks/settings/settings.env")
OWN_VALUES = {
    "AWS_ACCOUNT_ID": "444455556666",
    "ARTIFACT_BUCKET": "acme-ml-artifacts",
    "DOMAIN": "ml.acme.internal",
    "CERTIFICATE_ARN": (
        "arn:aws:acm:eu-west-1:444455556666:certificate/1f2e3d4c-0000-4000-8000-00000000beef"
    ),
    "MLFLOW_URL": "https://mlflow.ml.acme.internal",
}
FORK = "https://github.com/acme/ml-platform.git"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_real_tree(tmp_path / "repo")


def found(repo: Path, allow_examples: bool = False) -> str:
    return problems(validate_repo(repo, [CHECK], allow_examples=allow_examples), CHECK)


def set_settings(repo: Path, values: dict[str, str]) -> None:
    lines = []
    for line in (repo / SETTINGS).read_text().splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={values[key]}" if key in values and "=" in line else line)
    (repo / SETTINGS).write_text("\n".join(lines) + "\n")


def test_the_shipped_examples_fail_until_replaced(repo: Path) -> None:
    text = found(repo)
    for key in OWN_VALUES:
        assert f"{SETTINGS}: {key}=" in text
    assert "is an example value" in text
    assert found(repo, allow_examples=True) == ""


def test_own_values_pass_and_reach_the_manifests(repo: Path) -> None:
    set_settings(repo, OWN_VALUES)
    rewrite(repo, FORK)
    assert found(repo) == ""


def test_a_tree_that_names_the_example_repository(repo: Path) -> None:
    set_settings(repo, OWN_VALUES)
    text = found(repo)
    for cluster in ("kind", "eks"):
        assert f"the {cluster} tree names the example repository example-org/" in text
    assert "make repository URL=https://github.com/<you>/<repo>.git" in text
    rewrite(repo, FORK)
    assert "example repository" not in found(repo)


def test_a_placeholder_no_replacement_reaches(repo: Path) -> None:
    def drop_domain(docs: list[dict[str, Any]]) -> None:
        docs[0]["replacements"] = [
            r for r in docs[0]["replacements"] if r["source"]["fieldPath"] != "data.DOMAIN"
        ]

    edit_yaml(repo / "clusters/eks/settings/kustomization.yaml", drop_domain)
    text = found(repo, allow_examples=True)
    assert "eks: Application argocd/mlflow: Ingress mlflow/mlflow: placeholder DOMAIN" in text
    assert "Ingress tenant-a/inference-service: placeholder DOMAIN was not replaced" in text


def test_eksctl_config_using_an_undefined_setting(repo: Path) -> None:
    config = repo / "clusters/eks/cluster.yaml"
    config.write_text(config.read_text().replace("${VPC_CIDR}", "${VPC_RANGE}"))
    text = found(repo, allow_examples=True)
    assert "clusters/eks/cluster.yaml: uses ${VPC_RANGE}, which" in text
