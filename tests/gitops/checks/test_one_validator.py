"""One validator: CI's kubeconform reads the schemas the local validation uses; the
`one-validator` check catches a workflow or CRD list that drifts from them (the exported
schemas themselves: tree/test_export_schemas.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gitops.validate import validate_repo
from tests.gitops.tree_copies import copy_real_tree, problems

CHECK = "one-validator"
WORKFLOW = Path(".github/workflows/checks.yaml")
SOURCES = Path("upstream-files.yaml")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_real_tree(tmp_path / "repo")


def found(repo: Path) -> str:
    return problems(validate_repo(repo, [CHECK]), CHECK)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_real_tree_passes(repo: Path) -> None:
    assert found(repo) == ""


def test_a_crd_sum_that_does_not_match_the_local_file(repo: Path) -> None:
    edit(repo / SOURCES, "sha256: 5dde0e22", "sha256: 00000000")
    assert "argoproj.io/application-crd.yaml: sha256 00000000" in found(repo)


def test_a_crd_the_list_lacks(repo: Path) -> None:
    manifest = yaml.safe_load((repo / SOURCES).read_text())
    crds = manifest["sets"]["crds"]
    crds[:] = [e for e in crds if e["file"] != "external-secrets.io/secretstores.yaml"]
    (repo / SOURCES).write_text(yaml.safe_dump(manifest))
    assert (
        "external-secrets.io/secretstores.yaml is read locally but the crds set does not list it"
    ) in found(repo)


def test_kubeconform_with_upstream_schemas(repo: Path) -> None:
    edit(
        repo / WORKFLOW,
        "kubeconform -strict -summary \\\n",
        "kubeconform -strict -summary -kubernetes-version 1.33.0 -schema-location default \\\n",
    )
    text = found(repo)
    assert "kubeconform names a Kubernetes version of its own" in text
    assert "schema location default is not the exported schemas" in text


def test_kubeconform_without_the_exported_schemas(repo: Path) -> None:
    edit(repo / WORKFLOW, "python -m gitops export-schemas", "python -m gitops validate")
    assert "kubeconform runs without `python -m gitops export-schemas` in its job" in found(repo)
