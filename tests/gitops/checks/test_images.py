"""The `images` check (gitops/checks/images.py) passes the real tree and reports each planted
fault, in a copy of the real tree, naming the places and versions involved (the pins it
compares: tree/test_pins.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops import paths
from gitops.checks import Context, images
from gitops.tree.crds import CrdSet
from gitops.tree.inventory import cluster_tree
from gitops.validate import Report, validate_repo
from tests.gitops.tree_copies import copy_real_tree, edit_yaml, problems

CHECK = "images"
# The files outside the manifests the check reads (gitops/settings.py is code: the
# check imports KUBERNETES_VERSION). Copied when copy_real_tree has not copied them already.
EXTRA = (
    ".github",
    "Makefile",
    "pyproject.toml",
    "uv.lock",
    "service/requirements.txt",
    "service/Dockerfile",
)
OWN = "ghcr.io/example-org/ml-inference-platform"
COMMIT = "f286da6fc4db6578fd4db1574f29e34e892f140a"  # any 40-hex commit
DIGEST = "sha256:" + "ab" * 32


def copy_pinned_tree(target: Path) -> Path:
    """copy_real_tree plus the files outside the manifests that pin versions."""
    copy_real_tree(target)
    for rel in EXTRA:
        source, copy = paths.REPO_ROOT / rel, target / rel
        if copy.exists():
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, copy)
        else:
            shutil.copy2(source, copy)
    return target


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_pinned_tree(tmp_path / "repo")


@pytest.fixture(scope="module")
def real_report() -> Report:
    """As `python -m gitops validate` runs it without GITOPS_ALLOW_EXAMPLES."""
    return validate_repo(paths.REPO_ROOT, ["images"], allow_examples=False)


@pytest.fixture(scope="module")
def trees() -> list[Any]:
    """The real tree's clusters, for faults outside the manifests (no render needed)."""
    return [cluster_tree(paths.REPO_ROOT, cluster) for cluster in paths.CLUSTERS]


def file_faults(root: Path, trees: list[Any]) -> str:
    """The check over `root`'s files and the real tree's clusters (allow_examples)."""
    context = Context(root, {}, trees, {}, CrdSet([]), allow_examples=True)
    return "\n".join(str(f) for f in images.check(context))


def manifest_faults(root: Path) -> str:
    return problems(validate_repo(root, [CHECK], allow_examples=True), CHECK)


# --- the check on the real tree -----------------------------------------------------------------


def test_real_tree_passes_with_the_shipped_examples(trees: list[Any]) -> None:
    assert file_faults(paths.REPO_ROOT, trees) == ""


def test_real_tree_without_examples_wants_the_eks_digests(real_report: Report) -> None:
    """The shipped EKS overlays pin commit tags only, until CI's first bump adds digests."""
    found = real_report.by_check(CHECK)
    assert {f.where for f in found} == {
        "eks: Application argocd/mlflow",
        "eks: Application argocd/rollout-judge",
        "eks: Application argocd/tenant-a",
        "eks: Application argocd/tenant-b",
    }
    assert all(f.problem.endswith("no digest on eks") for f in found)


def test_check_is_fast(real_report: Report) -> None:
    assert real_report.seconds[CHECK] < 1.0


@pytest.mark.parametrize(
    ("image", "cluster", "examples", "problem"),
    [
        ("quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z", "kind", False, ""),
        ("quay.io/foo/bar@" + DIGEST, "eks", False, ""),
        ("quay.io/foo/bar:3.13", "kind", False, "tag '3.13' moves"),
        ("quay.io/foo/bar", "kind", False, "no tag"),
        ("quay.io/foo/bar:latest@" + DIGEST, "kind", False, "tag 'latest' moves"),
        (f"{OWN}/inference-service:{COMMIT}", "kind", False, ""),
        (f"{OWN}/inference-service:{COMMIT}@{DIGEST}", "kind", False, "a digest on Kind"),
        (f"{OWN}/inference-service:{COMMIT}@{DIGEST}", "eks", False, ""),
        (f"{OWN}/inference-service:{COMMIT}", "eks", True, ""),
        (f"{OWN}/inference-service:{COMMIT}", "eks", False, "no digest on eks"),
        (f"{OWN}/inference-service:v1@{DIGEST}", "eks", False, "tag 'v1' is not a commit"),
        (f"{OWN}/debug-tools:{COMMIT}", "kind", False, "not in the build matrix"),
        (f"docker.io/someone/inference-service:{COMMIT}", "kind", False, "CI publishes"),
    ],
)
def test_pinning_rules(image: str, cluster: str, examples: bool, problem: str) -> None:
    found = " ".join(p for p, _ in images.pinned(image, cluster, BUILT, examples))
    assert problem in found if problem else found == ""


BUILT = {"inference-service", "mlflow-server"}


@pytest.mark.parametrize(
    ("repository", "problem"),
    [
        ("quay.io/minio/minio", ""),
        ("registry.k8s.io/metrics-server/metrics-server", ""),
        ("public.ecr.aws/eks/aws-load-balancer-controller", ""),
        ("python", ""),
        ("kindest/node", ""),
        ("minio/mc", "docker.io/minio/mc is denied: Docker Hub stopped serving"),
        ("index.docker.io/minio/minio", "docker.io/minio/minio is denied"),
        ("busybox", "docker.io/library/busybox: a Docker Hub repository not known"),
        ("registry.example.com/x/y", "registry registry.example.com is not on the allow-list"),
    ],
)
def test_registry_rules(repository: str, problem: str) -> None:
    found = " ".join(p for p, _ in images.pullable(repository))
    assert problem in found if problem else found == ""


# --- planted faults in a copy of the real tree ------------------------------------------------


def set_image(name: str, image: str) -> Callable[[list[dict[str, Any]]], None]:
    def change(docs: list[dict[str, Any]]) -> None:
        spec = docs[0]["spec"]["template"]["spec"]
        next(c for c in spec["containers"] if c["name"] == name)["image"] = image

    return change


def test_minio_back_on_docker_hub(repo: Path) -> None:
    edit_yaml(
        repo / "base/minio/statefulset.yaml",
        set_image("minio", "docker.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"),
    )
    found = manifest_faults(repo)
    assert (
        "kind: Application argocd/minio: StatefulSet minio/minio: docker.io/minio/minio is "
        "denied: Docker Hub stopped serving minio/minio and minio/mc in September 2026"
    ) in found


def test_an_image_tagged_latest(repo: Path) -> None:
    edit_yaml(
        repo / "base/minio/job-create-bucket.yaml", set_image("mc", "quay.io/minio/mc:latest")
    )
    found = manifest_faults(repo)
    assert "Job minio/create-bucket: quay.io/minio/mc:latest: tag 'latest' moves" in found
    assert "expected: a digest or a release tag such as 1.2.3" in found


def test_an_unpinned_third_party_image(repo: Path) -> None:
    def add_sidecar(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["template"]["spec"]["containers"].append(
            {"name": "bar", "image": "quay.io/foo/bar:3"}
        )

    edit_yaml(repo / "base/minio/statefulset.yaml", add_sidecar)
    found = manifest_faults(repo)
    assert "StatefulSet minio/minio: quay.io/foo/bar:3: tag '3' moves" in found


def test_mlflow_skinny_at_another_version_than_mlflow(repo: Path, trees: list[Any]) -> None:
    requirements = repo / "service/requirements.txt"
    text = requirements.read_text(encoding="utf-8")
    requirements.write_text(text.replace("mlflow-skinny==3.17.2", "mlflow-skinny==3.18.0"))
    found = file_faults(repo, trees)
    line = text.splitlines().index("mlflow-skinny==3.17.2") + 1
    assert (
        f"service/requirements.txt:{line}: mlflow: mlflow-skinny 3.18.0 here, but "
        "base/mlflow/image/requirements.txt:5 pins mlflow 3.17.2"
    ) in found
    assert found.count("\n") == 0, found  # only that one place disagrees


def test_kind_node_image_at_another_minor(repo: Path, trees: list[Any]) -> None:
    config = repo / "clusters/kind/kind-config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("node:v1.36.1", "node:v1.35.4"))
    found = file_faults(repo, trees)
    for line in (10, 12, 14):
        assert (
            f"clusters/kind/kind-config.yaml:{line}: kubernetes: kindest/node v1.35.4 here, but "
            "apps/base/kube-prometheus-stack.yaml:72 pins "
            "pod-security.kubernetes.io/enforce-version v1.36"
        ) in found
    assert "Kind nodes, EKS, the validation schemas, kubectl and Pod Security levels" in found


def test_argo_cd_install_and_crd_release_apart(repo: Path, trees: list[Any]) -> None:
    script = repo / "clusters/install-argocd.sh"
    script.write_text(script.read_text(encoding="utf-8").replace(":-v3.5.1}", ":-v3.6.0}"))
    found = file_faults(repo, trees)
    # Two pins, one each: the first in path order is taken as the reference.
    assert (
        "upstream-files.yaml:17: argo-cd: argo-cd v3.5.1 here, but "
        "clusters/install-argocd.sh:5 pins argoproj/argo-cd v3.6.0"
    ) in found


def kind_pin(repo: Path, overlay: str) -> str:
    """The tag a Kind overlay's one `images:` entry pins, read with PyYAML (CI's bumps move
    it, so no test hard-codes it)."""
    text = (repo / "overlays/kind" / overlay / "kustomization.yaml").read_text(encoding="utf-8")
    return str(yaml.safe_load(text)["images"][0]["newTag"])


def test_bootstrap_no_longer_loading_images(repo: Path, trees: list[Any]) -> None:
    script = repo / "clusters/kind/bootstrap.sh"
    lines = script.read_text(encoding="utf-8").splitlines(keepends=True)
    script.write_text("".join(line for line in lines if line.strip() != "load_images"))
    found = file_faults(repo, trees)
    service, mlflow = kind_pin(repo, "tenants/tenant-a"), kind_pin(repo, "mlflow")
    assert (
        "clusters/kind/bootstrap.sh: load_images loads the images but the script never calls "
        f"it; Kind runs {OWN}/inference-service:{service}, {OWN}/mlflow-server:{mlflow}"
    ) in found


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("kind load image-archive", "echo", "no function runs `kind load image-archive`"),
        ('"$(inventory --images-built)"', '"$(cat images.txt)"', "does not read `inventory"),
    ],
)
def test_bootstrap_loading_something_else(tmp_path: Path, old: str, new: str, problem: str) -> None:
    script = tmp_path / "bootstrap.sh"
    text = (paths.REPO_ROOT / "clusters/kind/bootstrap.sh").read_text(encoding="utf-8")
    assert old in text
    script.write_text(text.replace(old, new), encoding="utf-8")
    assert problem in images.bootstrap_problem(script)
    assert images.bootstrap_problem(paths.REPO_ROOT / "clusters/kind/bootstrap.sh") == ""
