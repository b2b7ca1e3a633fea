"""The `image-commits` check (gitops/checks/image_commits.py): the real tree's pins name
commits that build their images; a planted pin that cannot (the first commit, an unknown
commit, a commit of an unmerged branch) is reported with its overlay, image, commit and
reason; a clone that cannot answer (shallow, or no git at all) is reported as such."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from gitops import paths
from gitops.checks import Context, image_commits
from gitops.settings import Settings
from gitops.tree.crds import CrdSet
from gitops.validate import validate_repo
from tests.gitops.git_repos import commit, git, init
from tests.gitops.tree_copies import copy_real_tree, problems

CHECK = "image-commits"
# The repository's first commit: its tree has none of the three images' build contexts.
FIRST_COMMIT = "983b7c3c02baf1b4f49bbbafd5ce8f2f8aebecfa"
KIND_MLFLOW = "overlays/kind/mlflow/kustomization.yaml"
_PINNED_TAG = re.compile(r"(newTag: )[0-9a-f]{40}")


def faults(root: Path, history: Path) -> str:
    """The check alone over `root`'s files with `history` as the git history (no render)."""
    settings = replace(Settings.from_env(root), git_history=history)
    context = Context(root, {}, [], {}, CrdSet([]), settings=settings)
    return "\n".join(str(f) for f in image_commits.check(context))


def repin(path: Path, commit_id: str) -> int:
    """Point every commit tag of the kustomization(s) at `path` to `commit_id`."""
    files = sorted(path.rglob("kustomization.yaml")) if path.is_dir() else [path]
    count = 0
    for file in files:
        text, found = _PINNED_TAG.subn(rf"\g<1>{commit_id}", file.read_text(encoding="utf-8"))
        file.write_text(text, encoding="utf-8")
        count += found
    return count


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if needle in line)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_real_tree(tmp_path / "repo")


@pytest.fixture
def own_history(repo: Path) -> dict[str, str]:
    """`repo` as a git repository of its own: the tree (with the three build contexts), a
    second commit pinning every CI image at the first, and a commit on a branch main never
    merged."""
    init(repo)
    first = commit(repo, "the tree")
    assert repin(repo / "overlays", first) == 8
    pinned = commit(repo, "pin the images built from the tree")
    git(repo, "switch", "-q", "-c", "side")
    (repo / "service/NOTES").write_text("never merged\n", encoding="utf-8")
    side = commit(repo, "a side branch")
    git(repo, "switch", "-q", "main")
    return {"first": first, "pinned": pinned, "side": side}


def test_real_tree_pins_commits_that_build_their_images() -> None:
    settings = Settings.from_env(paths.REPO_ROOT)
    context = Context(paths.REPO_ROOT, {}, [], {}, CrdSet([]), settings=settings)
    assert list(image_commits.check(context)) == []
    assert context.stats[CHECK] == 8  # three images, two clusters, two tenants


def test_the_first_commit_pinned_names_overlay_image_commit_and_dockerfile(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through `validate`, with the history of the repository the copy came from."""
    monkeypatch.setenv("GITOPS_GIT_HISTORY", str(paths.REPO_ROOT))
    repin(repo / KIND_MLFLOW, FIRST_COMMIT)
    found = problems(validate_repo(repo, [CHECK]), CHECK)
    line = line_of(repo / KIND_MLFLOW, FIRST_COMMIT)
    assert found == (
        f"{KIND_MLFLOW}:{line}: mlflow-server pins commit {FIRST_COMMIT}, whose tree has no "
        "base/mlflow/image/Dockerfile, so CI cannot have built the image from it (expected: "
        "the commit CI built mlflow-server from: one in the history of HEAD whose tree holds "
        "base/mlflow/image/Dockerfile)"
    )


def test_a_commit_the_repository_does_not_have(repo: Path) -> None:
    unknown = "0123456789abcdef" * 2 + "01234567"
    tenant_b = "overlays/kind/tenants/tenant-b/kustomization.yaml"  # the full image
    repin(repo / tenant_b, unknown)
    found = faults(repo, paths.REPO_ROOT)
    assert found.count("\n") == 0, found
    assert found.startswith(
        f"{tenant_b}:{line_of(repo / tenant_b, unknown)}: inference-service pins commit "
        f"{unknown}, which is not a commit of this repository (expected: "
    )


# The full service's pin: its service/Dockerfile has no REQUIREMENTS argument yet.
BEFORE_SLIM = "52ed9cd39b93369cf763459f73c9f29c0cf54c15"
# The first commit with the slim image's Dockerfile arguments and requirements.
SLIM_READY = "edcb9dc027e41b46d59ae2795d484d2ab777f5ed"
SLIM = "ghcr.io/example-org/ml-inference-platform/inference-service-slim"


def pin_slim(repo: Path, tenant: str, commit_id: str) -> str:
    """The tenant's overlay chooses the slim image pinned at `commit_id`; returns its path."""
    path = f"overlays/kind/tenants/{tenant}/kustomization.yaml"
    text = (repo / path).read_text(encoding="utf-8")
    (repo / path).write_text(
        text.replace(
            "images:\n",
            "components:\n  - ../../components/slim-image\nimages:\n"
            f"  - name: inference-service-slim\n    newName: {SLIM}\n    newTag: {commit_id}\n",
            1,
        ),
        encoding="utf-8",
    )
    return path


def test_a_slim_pin_of_a_commit_whose_dockerfile_lacks_its_build_arguments(repo: Path) -> None:
    path = pin_slim(repo, "tenant-b", SLIM_READY)
    assert faults(repo, paths.REPO_ROOT) == ""

    pin_slim(copy_real_tree(repo.parent / "older"), "tenant-b", BEFORE_SLIM)
    found = faults(repo.parent / "older", paths.REPO_ROOT)
    line = line_of(repo / path, "newTag")  # the slim entry comes first
    assert found.startswith(
        f"{path}:{line}: inference-service-slim pins commit {BEFORE_SLIM}, whose tree cannot "
        "build the image as CI does: service/Dockerfile declares no ARG REQUIREMENTS (CI builds "
        "it with REQUIREMENTS=requirements-slim.txt) (expected: "
    )


def test_a_slim_pin_of_a_commit_without_the_slim_requirements(
    repo: Path, own_history: dict[str, str]
) -> None:
    """The copy's Dockerfile declares the arguments; the requirements file comes later."""
    requirements = repo / "service/requirements-slim.txt"
    requirements.unlink(missing_ok=True)
    without = commit(repo, "the slim Dockerfile arguments")
    requirements.write_text("onnxruntime==1.32.0\n", encoding="utf-8")
    with_them = commit(repo, "the slim requirements")
    path = pin_slim(repo, "tenant-a", with_them)
    assert faults(repo, repo) == ""

    pin_slim(repo, "tenant-b", without)
    found = faults(repo, repo)
    assert found.startswith(
        f"overlays/kind/tenants/tenant-b/kustomization.yaml:{line_of(repo / path, 'newTag')}: "
        f"inference-service-slim pins commit {without}, whose tree cannot build the image as CI "
        "does: no service/requirements-slim.txt (CI builds it with "
        "REQUIREMENTS=requirements-slim.txt)"
    )


def test_a_tag_that_is_no_commit_is_left_to_the_images_check(repo: Path) -> None:
    path = repo / "overlays/kind/rollout-judge/kustomization.yaml"
    path.write_text(_PINNED_TAG.sub(r"\g<1>v1.2.3", path.read_text(encoding="utf-8")))
    assert faults(repo, paths.REPO_ROOT) == ""


def test_the_tree_s_own_history_passes_and_a_side_branch_commit_fails(
    repo: Path, own_history: dict[str, str]
) -> None:
    assert faults(repo, repo) == ""

    repin(repo / KIND_MLFLOW, own_history["side"])
    found = faults(repo, repo)
    line = line_of(repo / KIND_MLFLOW, own_history["side"])
    assert found == (
        f"{KIND_MLFLOW}:{line}: mlflow-server pins commit {own_history['side']}, which is not in "
        "the history of HEAD (a commit of a branch that was not merged?) (expected: the "
        "commit CI built mlflow-server from: one in the history of HEAD whose tree holds "
        "base/mlflow/image/Dockerfile)"
    )


def test_a_shallow_clone_is_reported_as_such_not_as_wrong_pins(
    repo: Path, own_history: dict[str, str], tmp_path: Path
) -> None:
    # The newest commit only: the pinned commit is its parent, so it is absent.
    (repo / "README").write_text("one more commit\n", encoding="utf-8")
    commit(repo, "after the pins")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow))
    assert git(shallow, "rev-parse", "--is-shallow-repository") == "true"

    found = faults(shallow, shallow)

    assert found.count("\n") == 0, found
    assert found.startswith(
        ".: a shallow clone: the history is absent, so the commits 8 image pins name (overlays/"
    )
    assert "expected: the full history: git fetch --unshallow" in found


def test_a_copy_without_git_says_where_to_find_the_history(repo: Path) -> None:
    found = faults(repo, repo)
    assert found.startswith(".: not a git repository: the commits 8 image pins name (")
    assert "GITOPS_GIT_HISTORY=<the clone this tree was copied from>" in found
