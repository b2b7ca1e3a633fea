"""`python -m gitops set-repository URL`: a fork points every place the tree names its
repository at itself, in one step, and nothing of the example is left."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitops import paths
from gitops.set_repository import main
from gitops.tree.repository_url import EXAMPLE, RepositoryUrlError, forms, occurrences, parse

FORK = "https://github.com/Acme/ml-platform.git"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    target = tmp_path / "repo"
    for top in ("apps", "base", "clusters", "overlays", "gitops", "docs", "renovate.json5"):
        source = paths.REPO_ROOT / top
        if source.is_dir():
            shutil.copytree(source, target / top, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / top)
    return target


def test_the_tree_names_the_example_in_argo_cd_images_and_runbooks() -> None:
    found = {p.relative_to(paths.REPO_ROOT).as_posix() for p in occurrences(paths.REPO_ROOT)}
    assert "clusters/eks/root-application.yaml" in found
    assert "apps/base/projects/platform.yaml" in found
    assert "overlays/eks/tenants/tenant-a/kustomization.yaml" in found  # the image path
    assert "base/monitoring/prometheusrule-inference.yaml" in found  # runbook links
    assert "gitops/settings.py" in found  # REPO_URL, the tooling's own


def test_a_fork_rewrites_every_occurrence(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([FORK, "--repo", str(repo), "--no-validate"]) == 0
    assert occurrences(repo) == {}
    fork = parse(FORK)
    root = (repo / "clusters/eks/root-application.yaml").read_text(encoding="utf-8")
    assert "repoURL: https://github.com/Acme/ml-platform.git" in root
    tenant = (repo / "overlays/eks/tenants/tenant-a/kustomization.yaml").read_text(encoding="utf-8")
    # image.yaml publishes under ${REPOSITORY,,}: the package path is lower case
    assert "newName: ghcr.io/acme/ml-platform/inference-service" in tenant
    assert fork.packages == "ghcr.io/acme/ml-platform"
    assert "gitops/settings.py" in capsys.readouterr().out
    # the module that names the example keeps it, so a fork can still recognise it
    module = (repo / "gitops/tree/repository_url.py").read_text(encoding="utf-8")
    assert 'Repository("example-org", "ml-inference-platform")' in module


def test_a_second_run_and_a_bad_url_are_refused(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["git@github.com:acme/ml-platform.git", "--repo", str(repo)]) == 2
    assert "is not a GitHub repository URL" in capsys.readouterr().err
    assert main([FORK, "--repo", str(repo), "--no-validate"]) == 0
    assert main(["https://github.com/other/x.git", "--repo", str(repo), "--no-validate"]) == 2
    assert f"nothing names {EXAMPLE.slug} any more" in capsys.readouterr().err


def test_url_forms() -> None:
    with pytest.raises(RepositoryUrlError):
        parse("https://gitlab.com/acme/ml-platform.git")
    assert parse("https://github.com/acme/ml-platform").url == (
        "https://github.com/acme/ml-platform.git"
    )
    assert forms(EXAMPLE)[2] == "ghcr.io/example-org/ml-inference-platform"
