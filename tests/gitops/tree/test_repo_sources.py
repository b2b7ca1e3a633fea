"""One repository-URL spelling for validation and the PR diff (gitops/tree/repo_sources.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops.tree.app_tree import App, ClusterTree, TreeBuilder
from gitops.tree.repo_sources import app_sources, normalise_repo_url

SAME_REPOSITORY = [
    "https://github.com/example-org/ml-inference-platform.git",
    "https://github.com/Example-Org/ml-inference-platform/",
    "http://github.com/example-org/ml-inference-platform",
    "git@github.com:example-org/ml-inference-platform.git",
    "ssh://git@github.com/example-org/ml-inference-platform",
    " git@GitHub.com:example-org/ml-inference-platform ",
]


@pytest.mark.parametrize("url", SAME_REPOSITORY)
def test_every_spelling_of_one_repository_is_one_repository(url: str) -> None:
    assert normalise_repo_url(url) == "github.com/example-org/ml-inference-platform"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ssh://git@git.example.com:2222/team/repo.git", "git.example.com:2222/team/repo"),
        ("https://github.com/example-org/ml-inference-platform-fork", None),
        ("git@github.com:other-org/ml-inference-platform", None),
    ],
)
def test_ports_stay_and_other_repositories_differ(url: str, expected: str | None) -> None:
    ours = normalise_repo_url(SAME_REPOSITORY[0])
    if expected is None:
        assert normalise_repo_url(url) != ours
    else:
        assert normalise_repo_url(url) == expected


def test_sources_prefers_the_multi_source_list() -> None:
    single = {"spec": {"source": {"path": "a"}}}
    multi = {"spec": {"source": {"path": "ignored"}, "sources": [{"chart": "c"}, "junk"]}}
    assert app_sources(single) == [{"path": "a"}]
    assert app_sources(multi) == [{"chart": "c"}]
    assert app_sources({"spec": {}}) == app_sources({}) == []


@pytest.mark.parametrize(
    ("source_url", "ours"), [(SAME_REPOSITORY[3], True), ("git@github.com:other-org/x.git", False)]
)
def test_validation_renders_an_scp_style_source_from_this_checkout(
    tmp_path: Path, source_url: str, ours: bool
) -> None:
    """Before one normaliser existed, validation called git@github.com:org/repo external while
    the PR diff called it this repository."""
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: rendered-here, namespace: x}\n"
    )
    builder = TreeBuilder(tmp_path, SAME_REPOSITORY[0], {}, lambda _obj: True)
    tree = ClusterTree("kind")
    app = App("kind", {"metadata": {"name": "x"}}, parent="root")
    source = {"repoURL": source_url, "path": "apps", "targetRevision": "main"}
    objects = builder._source_objects(tree, app, source)
    assert app.source_paths == (["apps"] if ours else [])
    assert [o["metadata"]["name"] for o in objects] == (["rendered-here"] if ours else [])
