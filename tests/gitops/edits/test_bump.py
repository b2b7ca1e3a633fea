"""`python -m gitops bump` on a miniature repository and on a copy of the real overlays."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gitops.edits import bump
from gitops.paths import REPO_ROOT
from gitops.tree.inventory import built_images
from gitops.tree.render import render

DIGEST = "sha256:" + "3f2a" * 16
IMAGE = "ghcr.io/example-org/ml-inference-platform/inference-service"

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: inference-service
spec:
  selector:
    matchLabels: {app: inference-service}
  template:
    metadata:
      labels: {app: inference-service}
    spec:
      containers:
        - name: inference
          image: inference-service
"""

TENANT = """\
# Tenant {tenant} on {cluster}: only what differs from the base.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {tenant}
resources:
  - ../../../../base/inference  # the workload
images:
  # CI bumps this entry by pull request
  - name: inference-service
    newName: {image}
    newTag: "1.0"
labels:
  - pairs:
      ml-platform.example.com/tenant: {tenant}
"""


@pytest.fixture
def mini_repo(tmp_path: Path) -> Path:
    (tmp_path / "base/inference").mkdir(parents=True)
    (tmp_path / "base/inference/deployment.yaml").write_text(DEPLOYMENT)
    (tmp_path / "base/inference/kustomization.yaml").write_text("resources:\n  - deployment.yaml\n")
    for cluster in ("kind", "eks"):
        for tenant in ("tenant-a", "tenant-b"):
            folder = tmp_path / f"overlays/{cluster}/tenants/{tenant}"
            folder.mkdir(parents=True)
            text = TENANT.format(tenant=tenant, cluster=cluster, image=IMAGE)
            (folder / "kustomization.yaml").write_text(text)
    return tmp_path


def tree(root: Path, cluster: str) -> dict[str, str]:
    folder = root / "overlays" / cluster
    return {
        str(p.relative_to(root)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def rendered_images(root: Path, cluster: str) -> dict[str, list[str]]:
    images = {}
    for overlay in sorted((root / "overlays" / cluster / "tenants").glob("*/kustomization.yaml")):
        objects = render(overlay.parent)
        images[overlay.parent.name] = [
            c["image"]
            for o in objects
            if o["kind"] == "Deployment"
            for c in o["spec"]["template"]["spec"]["containers"]
            if "inference-service" in c["image"]
        ]
    return images


def test_pins_every_tenant_of_one_cluster_by_digest(mini_repo, capsys):
    eks_before = tree(mini_repo, "eks")
    ref = f"{IMAGE}@{DIGEST}"

    assert bump.main(["--cluster", "kind", "--image", ref, "--root", str(mini_repo)]) == 0

    assert rendered_images(mini_repo, "kind") == {"tenant-a": [ref], "tenant-b": [ref]}
    assert tree(mini_repo, "eks") == eks_before
    out = capsys.readouterr().out
    assert f"{IMAGE}:1.0 -> {ref}" in out
    text = (mini_repo / "overlays/kind/tenants/tenant-a/kustomization.yaml").read_text()
    # comments and every other key survive the edit
    assert "# CI bumps this entry by pull request" in text
    assert "- ../../../../base/inference  # the workload" in text
    assert "newTag" not in text
    entry = yaml.safe_load(text)["images"]
    assert entry == [{"name": "inference-service", "newName": IMAGE, "digest": DIGEST}]


def test_tag_and_digest_and_a_second_run_changes_nothing(mini_repo, capsys):
    ref = f"{IMAGE}:0123abc@{DIGEST}"
    args = ["--cluster", "eks", "--image", ref, "--root", str(mini_repo)]
    assert bump.main(args) == 0
    after_first = tree(mini_repo, "eks")
    capsys.readouterr()

    assert bump.main(args) == 0

    assert tree(mini_repo, "eks") == after_first
    assert "inference-service unchanged" in capsys.readouterr().out
    assert rendered_images(mini_repo, "eks") == {"tenant-a": [ref], "tenant-b": [ref]}


def test_a_tenant_that_no_longer_renders_rolls_the_whole_bump_back(mini_repo, capsys):
    broken = mini_repo / "overlays/kind/tenants/tenant-b/kustomization.yaml"
    broken.write_text(broken.read_text().replace("base/inference", "base/missing"))
    before = tree(mini_repo, "kind")

    code = bump.main(
        ["--cluster", "kind", "--image", f"{IMAGE}@{DIGEST}", "--root", str(mini_repo)]
    )

    assert code == 1
    assert tree(mini_repo, "kind") == before
    assert "tenant-b" in capsys.readouterr().err


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitops", "bump", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )


def test_unknown_cluster_exits_2_and_lists_the_valid_ones(mini_repo):
    result = run_cli("--cluster", "gke", "--image", f"{IMAGE}@{DIGEST}", "--root", str(mini_repo))
    assert result.returncode == 2
    assert "--cluster 'gke' is unknown" in result.stderr
    assert "kind, eks" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "image",
    [
        IMAGE,  # neither tag nor digest
        f"{IMAGE}:latest",
        f"{IMAGE}@sha256:3f2a",  # digest too short
        "ghcr.io/Example-Org/Inference:1.0",  # upper case path
        f"{IMAGE}:1 0",  # a space inside the tag
        f"https://{IMAGE}:1.0",
    ],
)
def test_malformed_image_reference_exits_2_and_says_what_is_expected(mini_repo, image):
    before = tree(mini_repo, "kind")
    result = run_cli("--cluster", "kind", "--image", image, "--root", str(mini_repo))
    assert result.returncode == 2
    assert "expected NAME@sha256:<64 hex>" in result.stderr
    assert "Traceback" not in result.stderr
    assert tree(mini_repo, "kind") == before


# The service image each cluster's shipped tenants run: the EKS tenants are pickle-free and
# list the slim-image component (docs/serving.md, "Image").
TENANT_IMAGES = {"kind": IMAGE, "eks": f"{IMAGE}-slim"}


@pytest.mark.parametrize("cluster", ["kind", "eks"])
def test_bump_on_a_copy_of_the_real_overlays(tmp_path, cluster):
    tenants = sorted((REPO_ROOT / "overlays" / cluster / "tenants").glob("*/kustomization.yaml"))
    # The platform ships tenants on both clusters: none found is a deletion, not a skip.
    assert tenants, f"overlays/{cluster}/tenants holds no tenant kustomization"
    for top in ("base", "overlays", "clusters"):
        shutil.copytree(REPO_ROOT / top, tmp_path / top)
    other = "eks" if cluster == "kind" else "kind"
    other_before = tree(tmp_path, other)
    ref = f"{TENANT_IMAGES[cluster]}@{DIGEST}"
    mlflow_before = render(tmp_path / "overlays" / cluster / "mlflow")

    assert bump.main(["--cluster", cluster, "--image", ref, "--root", str(tmp_path)]) == 0

    images = rendered_images(tmp_path, cluster)
    assert sorted(images) == sorted(p.parent.name for p in tenants)
    assert all(found == [ref] * len(found) and found for found in images.values())
    assert tree(tmp_path, other) == other_before
    # The service's pin moved, nothing else: the registry still runs its own image.
    assert render(tmp_path / "overlays" / cluster / "mlflow") == mlflow_before


def test_bump_of_the_full_image_where_no_tenant_runs_it_changes_nothing(tmp_path, capsys):
    """On EKS every tenant runs the slim image: there is no overlay to pin the full one in."""
    for top in ("base", "overlays", "clusters"):
        shutil.copytree(REPO_ROOT / top, tmp_path / top)
    before = tree(tmp_path, "eks")

    assert bump.main(["--cluster", "eks", "--image", f"{IMAGE}@{DIGEST}", "--root", str(tmp_path)])
    assert "no overlay of eks runs inference-service" in capsys.readouterr().err
    assert tree(tmp_path, "eks") == before


@pytest.mark.parametrize("cluster", ["kind", "eks"])
def test_bump_of_the_mlflow_server_image(tmp_path, cluster):
    for top in ("base", "overlays", "clusters"):
        shutil.copytree(REPO_ROOT / top, tmp_path / top)
    tenants_before = rendered_images(tmp_path, cluster)
    ref = f"{IMAGE.replace('inference-service', 'mlflow-server')}:{'a' * 40}@{DIGEST}"

    assert bump.main(["--cluster", cluster, "--image", ref, "--root", str(tmp_path)]) == 0

    deployment = next(
        o for o in render(tmp_path / "overlays" / cluster / "mlflow") if o["kind"] == "Deployment"
    )
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == ref
    assert rendered_images(tmp_path, cluster) == tenants_before


def test_bump_knows_every_image_ci_builds():
    """The build matrix is the list of images CI pins: one it cannot bump fails the pin step."""
    assert set(bump.IMAGES) == {image.name for image in built_images(REPO_ROOT)}


@pytest.mark.parametrize("cluster", ["kind", "eks"])
def test_bump_of_the_rollout_judge_image(tmp_path, cluster):
    for top in ("base", "overlays", "clusters"):
        shutil.copytree(REPO_ROOT / top, tmp_path / top)
    mlflow_before = render(tmp_path / "overlays" / cluster / "mlflow")
    ref = f"{IMAGE.replace('inference-service', 'rollout-judge')}:{'b' * 40}@{DIGEST}"

    assert bump.main(["--cluster", cluster, "--image", ref, "--root", str(tmp_path)]) == 0

    deployment = next(
        o
        for o in render(tmp_path / "overlays" / cluster / "rollout-judge")
        if o["kind"] == "Deployment"
    )
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == ref
    assert render(tmp_path / "overlays" / cluster / "mlflow") == mlflow_before


def test_an_image_ci_does_not_build_is_refused(mini_repo):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gitops",
            "bump",
            "--cluster",
            "kind",
            "--root",
            str(mini_repo),
            "--image",
            "ghcr.io/example-org/other/thing:1.0",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "is not an image CI builds" in result.stderr
    assert "inference-service, inference-service-slim, mlflow-server" in result.stderr
