"""Offline expansion of ApplicationSets (shared with the diff tool)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops.tree.appsets import UnsupportedTemplate, expand, expand_git_directories


def appset(directories: list[dict[str, Any]], **template_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "tenants", "namespace": "argocd"},
        "spec": {
            "goTemplate": True,
            "generators": [
                {"git": {"repoURL": "r", "revision": "main", "directories": directories}}
            ],
            "template": {
                "metadata": {
                    "name": "{{.path.basename}}",
                    "labels": {"seg": "{{index .path.segments 2}}"},
                },
                "spec": {
                    "project": "{{.path.basename}}",
                    "source": {"path": "{{.path.path}}"},
                    **template_spec,
                },
            },
        },
    }


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("tenant-a", "tenant-b", "tenant-c", ".hidden"):
        (tmp_path / "overlays/kind/tenants" / name / "kit").mkdir(parents=True)
    (tmp_path / "overlays/kind/tenants/README.md").write_text("not a folder")
    return tmp_path


def test_git_directories_with_exclude(tree: Path) -> None:
    apps = expand_git_directories(
        appset(
            [
                {"path": "overlays/kind/tenants/*"},
                {"path": "overlays/kind/tenants/tenant-b", "exclude": True},
            ]
        ),
        tree,
    )
    assert [a["metadata"]["name"] for a in apps] == ["tenant-a", "tenant-c"]
    first = apps[0]
    assert first["kind"] == "Application"
    assert first["metadata"]["namespace"] == "argocd"
    assert first["metadata"]["labels"] == {"seg": "tenants"}
    assert first["spec"] == {
        "project": "tenant-a",
        "source": {"path": "overlays/kind/tenants/tenant-a"},
    }


def test_star_does_not_cross_slashes_and_nested_patterns_work(tree: Path) -> None:
    apps = expand_git_directories(appset([{"path": "overlays/kind/tenants/*/kit"}]), tree)
    assert [a["spec"]["source"]["path"] for a in apps] == [
        f"overlays/kind/tenants/{t}/kit" for t in ("tenant-a", "tenant-b", "tenant-c")
    ]


def test_unsupported_expression_is_refused(tree: Path) -> None:
    spec = appset([{"path": "overlays/kind/tenants/*"}], destination={"name": "{{.cluster}}"})
    with pytest.raises(UnsupportedTemplate, match="cluster"):
        expand_git_directories(spec, tree)


def test_other_generators_are_refused_by_expand(tree: Path) -> None:
    spec = appset([])
    spec["spec"]["generators"] = [{"clusters": {}}]
    with pytest.raises(UnsupportedTemplate, match="clusters"):
        expand(spec, tree)


def test_list_generator(tree: Path) -> None:
    spec = appset([])
    spec["spec"]["generators"] = [
        {
            "list": {
                "elements": [{"path": {"basename": "x", "path": "p", "segments": ["a", "b", "c"]}}]
            }
        }
    ]
    assert [a["metadata"]["name"] for a in expand(spec, tree)] == ["x"]
