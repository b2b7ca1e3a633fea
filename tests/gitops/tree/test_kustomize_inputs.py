"""The render cache is only as good as the inputs it fingerprints: every file a kustomization
reads changes its fingerprint, nothing else does, and a moved tree keeps it."""

from __future__ import annotations

import shutil
from pathlib import Path

from gitops import paths
from gitops.tree.kustomizations import render_one
from gitops.tree.kustomize_inputs import fingerprint, inputs

TENANT = Path("overlays/eks/tenants/tenant-a")


def copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    for top in ("base", "overlays", "clusters"):
        shutil.copytree(paths.REPO_ROOT / top, target / top)
    return target


def test_inputs_follow_resources_components_patches_and_generators() -> None:
    found = {p.relative_to(paths.REPO_ROOT).as_posix() for p in inputs(paths.REPO_ROOT / TENANT)}
    assert {
        "overlays/eks/tenants/tenant-a/settings.env",  # configMapGenerator envs
        "overlays/eks/tenants/tenant-a/models.yaml",  # configMapGenerator files
        "overlays/eks/tenant-workload/ingress.yaml",  # a resource of a resource folder
        "base/inference/deployment.yaml",
        "base/inference/settings.env",
        "clusters/eks/settings/settings.env",  # a component's generator
    } <= found
    assert "base/tenant/resourcequota.yaml" not in found  # the kit is another Application


def test_the_same_tree_elsewhere_has_the_same_fingerprint(tmp_path: Path) -> None:
    one, two = copy(tmp_path, "one"), copy(tmp_path, "two")
    assert fingerprint(one / TENANT) == fingerprint(two / TENANT) is not None


def test_a_changed_input_changes_it_and_an_unrelated_file_does_not(tmp_path: Path) -> None:
    repo = copy(tmp_path, "repo")
    before = fingerprint(repo / TENANT)
    (repo / "base/tenant/limitrange.yaml").write_text("# not read by the workload\n")
    assert fingerprint(repo / TENANT) == before
    settings = repo / "clusters/eks/settings/settings.env"
    settings.write_text(settings.read_text().replace("eu-west-1", "us-east-2"))
    assert fingerprint(repo / TENANT) != before


def test_a_remote_resource_is_never_cached(tmp_path: Path) -> None:
    folder = tmp_path / "remote"
    folder.mkdir()
    (folder / "kustomization.yaml").write_text(
        "resources:\n  - https://github.com/example/repo//deploy?ref=v1\n"
    )
    assert fingerprint(folder) is None


def test_a_cached_render_is_not_served_after_its_input_changed(tmp_path: Path) -> None:
    repo = copy(tmp_path, "repo")
    first = render_one(repo / TENANT, repo)
    deployment = repo / "base/inference/deployment.yaml"
    deployment.write_text(
        deployment.read_text().replace("revisionHistoryLimit: 5", "revisionHistoryLimit: 3")
    )
    second = render_one(repo / TENANT, repo)
    limits = [
        o["spec"]["revisionHistoryLimit"]
        for r in (first, second)
        for o in r.objects
        if o["kind"] == "Deployment"
    ]
    assert limits == [5, 3]
