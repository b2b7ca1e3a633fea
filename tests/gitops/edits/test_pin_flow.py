"""CI's image pin flow run for real, in real git repositories, for every kind of run.

A stand-in forge (a git repository with main, feature branches and the pin pull requests'
branches) receives squash merges, merge commits, pushes of several commits and dispatches.
Each CI run clones it as the bump job's checkout does (main, all branches, full history),
lays out the reference files the build job would have uploaded, and runs the pin step's own
`run:` script from .github/workflows/image.yaml with its matrix values. Stand-ins only for
what cannot run here: the registry (the reference files), `make venv` (this suite's .venv),
and the pull request (the step's diff of overlays/<cluster>, committed to the fixed branch
the way peter-evans/create-pull-request v8.1.1 rebuilds it: main plus this run's changes, and
no branch when there are none).

The property, in every scenario: a cluster's overlays pin an image at a commit exactly when
that commit's image was built in the run, the commit is the newest the cluster has seen, and
its tree builds the image; the pin names exactly that commit (and on EKS the digest).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops import paths
from gitops.checks import Context, image_commits
from gitops.settings import Settings
from gitops.tree.crds import CrdSet
from gitops.tree.inventory import IMAGE_WORKFLOW, built_images
from tests.gitops.git_repos import GIT_ENV, commit, git, init

OWN = "ghcr.io/example-org/ml-inference-platform"
CONTEXTS = {image.name: image.context for image in built_images(paths.REPO_ROOT)}
ALL = tuple(CONTEXTS)
# The two service images, built on every run: the shipped Kind tenants run the full one,
# the EKS tenants (pickle-free) the slim one.
FULL = "inference-service"
SLIM = "inference-service-slim"
PIN_STEP = "Pin each newly published image"
# What the bump job's checkout needs: the manifests bump renders, the workflow (its matrix
# and the step under test), the gitops package the step runs, and the images' build contexts
# (a Dockerfile each: what the rule looks for; the build itself is the registry stand-in's).
# gitops reads the formats the service shares (models.yaml, the rollout policy) from
# service/inference/contracts, as in the repository.
TREE = (
    "base",
    "overlays",
    "clusters",
    str(IMAGE_WORKFLOW),
    "gitops",
    ".gitignore",
    "service/inference/__init__.py",
    "service/inference/contracts",
)
DOCKERFILES = tuple(f"{context}/Dockerfile" for context in CONTEXTS.values())
# CI's pin step before this flow (image.yaml's bump job), planted by the test that shows why
# it was replaced: it pinned only when the run's commit was the last one touching the image's
# folder (`make bump` is the stand-in's, see Forge).
OLD_PIN_STEP = """\
make venv
for file in references/*/reference; do
  reference=$(cat "$file")
  image=$(basename "$(dirname "$file")")
  image=${image#reference-}
  context=$(.venv/bin/python -m gitops inventory --cluster "$CLUSTER" --build-context "$image")
  latest=$(git log -1 --format=%H origin/main -- "$context")
  if [ "$latest" != "$SHA" ]; then
    echo "::notice::$SHA is not the newest change of $context ($latest): $image not bumped"
    continue
  fi
  if [ "$PIN" = tag ]; then
    reference=${reference%@*}
  fi
  make bump CLUSTER="$CLUSTER" IMAGE="$reference"
done
"""
# `make` in the checkout: `venv` is this suite's .venv, already there; `bump` runs what the
# Makefile's target runs, without the checkers its `setup` prerequisite installs.
MAKE = """\
#!/bin/sh
case "$1" in
  venv) exit 0 ;;
  bump) exec .venv/bin/python -m gitops bump --cluster "${2#CLUSTER=}" --image "${3#IMAGE=}" ;;
  *) exit 2 ;;
esac
"""


def digest_of(image: str, sha: str) -> str:
    """The registry stand-in: one digest per image and commit."""
    return "sha256:" + hashlib.sha256(f"{image}@{sha}".encode()).hexdigest()


def pin_of(image: str, sha: str, cluster: str) -> str:
    """What the cluster's overlays hold once the image built from `sha` is pinned."""
    tag = f"{OWN}/{image}:{sha}"
    return f"{tag}@{digest_of(image, sha)}" if cluster == "eks" else tag


def write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text, encoding="utf-8")


def pins_in(files: dict[str, str]) -> dict[tuple[str, str], str]:
    """(kustomization, image) -> the reference its `images:` entry sets (read with PyYAML);
    a Component's entries rename an image (slim-image) and pin nothing."""
    found = {}
    for path, text in files.items():
        data = yaml.safe_load(text) or {}
        if data.get("kind") == "Component":
            continue
        for entry in data.get("images") or []:
            reference = entry.get("newName", entry["name"])
            reference += f":{entry['newTag']}" if "newTag" in entry else ""
            reference += f"@{entry['digest']}" if "digest" in entry else ""
            found[(path, entry["name"])] = reference
    return found


@dataclass
class Run:
    sha: str
    cluster: str
    checkout: Path
    output: str  # what the step printed
    changed: list[str]  # the files the step changed: the pull request's diff
    body: str  # the pull request body the step wrote


class Forge:
    """The repository's host, stand-in: main, feature branches, the pin pull requests."""

    def __init__(self, root: Path, scratch: Path) -> None:
        self.root = root
        self.scratch = scratch
        self.runs = 0
        self.bin = scratch / "bin"
        write(self.bin, "make", MAKE)
        (self.bin / "make").chmod(0o755)

    # --- history --------------------------------------------------------------------------

    def commit(self, branch: str, files: dict[str, str], message: str) -> str:
        git(self.root, "switch", "-q", branch)
        for rel, text in files.items():
            write(self.root, rel, text)
        sha = commit(self.root, message)
        git(self.root, "switch", "-q", "main")
        return sha

    def branch(self, name: str, start: str = "main") -> None:
        git(self.root, "branch", name, start)

    def squash_merge(self, branch: str) -> str:
        git(self.root, "merge", "-q", "--squash", branch)
        return commit(self.root, f"{branch} (squashed)")

    def merge_commit(self, branch: str) -> str:
        git(self.root, "merge", "-q", "--no-ff", "-m", f"Merge branch {branch}", branch)
        return git(self.root, "rev-parse", "HEAD")

    def merge_pin_request(self, cluster: str) -> str:
        """The Kind pull request merges itself (gh pr merge --auto --squash)."""
        sha = self.squash_merge(f"image-bump/{cluster}")
        git(self.root, "branch", "-q", "-D", f"image-bump/{cluster}")
        return sha

    def has_branch(self, name: str) -> bool:
        return bool(git(self.root, "branch", "--list", name))

    def pins(self, cluster: str, ref: str = "main") -> dict[tuple[str, str], str]:
        listing = git(self.root, "ls-tree", "-r", "--name-only", ref, f"overlays/{cluster}")
        files = {
            path: git(self.root, "show", f"{ref}:{path}")
            for path in listing.splitlines()
            if path.endswith("kustomization.yaml")
        }
        return pins_in(files)

    # --- one CI run, job bump, one cluster ------------------------------------------------

    def run(
        self, sha: str, cluster: str, built: Iterable[str] = ALL, script: str | None = None
    ) -> Run:
        """Job bump of the run for `sha`, for one cluster, after the build job published
        `built`; `script` replaces the pin step's `run:` (to plant the old step)."""
        self.runs += 1
        checkout = self.scratch / f"run-{self.runs}-{cluster}"
        # actions/checkout with ref: main and fetch-depth: 0: every branch, all history.
        git(self.scratch, "clone", "-q", "--no-local", str(self.root), str(checkout))
        (checkout / ".venv").symlink_to(paths.REPO_ROOT / ".venv")
        with (checkout / ".git/info/exclude").open("a", encoding="utf-8") as exclude:
            exclude.write("/.venv\n/references/\n")
        self._download_references(checkout, sha, list(built))
        output = self._pin_step(checkout, sha, cluster, script)
        status = git(
            checkout, "ls-files", "--modified", "--deleted", "--others", "--exclude-standard"
        )
        changed = sorted(set(status.splitlines()))
        assert all(p.startswith(f"overlays/{cluster}/") for p in changed), changed
        report = checkout.parent / f"temp-{self.runs}" / "pin-request.md"
        body = report.read_text(encoding="utf-8") if report.is_file() else ""
        self._open_pin_request(checkout, cluster, changed, sha)
        return Run(sha, cluster, checkout, output, changed, body)

    def _download_references(self, checkout: Path, sha: str, built: list[str]) -> None:
        """The build job's artifacts: reference-<image>/reference each, or, when only one
        image was built, its file straight in references/ (actions/download-artifact
        v8.0.1 extracts a single matching artifact into `path` itself)."""
        for image in built:
            folder = "references" if len(built) == 1 else f"references/reference-{image}"
            write(checkout, f"{folder}/reference", f"{OWN}/{image}:{sha}@{digest_of(image, sha)}\n")

    def _pin_step(self, checkout: Path, sha: str, cluster: str, script: str | None) -> str:
        workflow = yaml.safe_load((checkout / IMAGE_WORKFLOW).read_text(encoding="utf-8"))
        job = workflow["jobs"]["bump"]
        step = next(s for s in job["steps"] if s.get("name", "").startswith(PIN_STEP))
        matrix = next(m for m in job["strategy"]["matrix"]["include"] if m["cluster"] == cluster)
        env = {key: resolve(value, matrix, sha) for key, value in step["env"].items()}
        temp = checkout.parent / f"temp-{self.runs}"
        temp.mkdir()
        outside = {k: v for k, v in GIT_ENV.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        result = subprocess.run(
            # GitHub's `bash` shell: bash --noprofile --norc -eo pipefail {0}
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script or step["run"]],
            cwd=checkout,
            env={
                **outside,
                **env,
                "PATH": f"{self.bin}:{os.environ['PATH']}",
                "RUNNER_TEMP": str(temp),
            },
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def _open_pin_request(self, checkout: Path, cluster: str, changed: list[str], sha: str) -> None:
        """create-pull-request (branch image-bump/<cluster>, delete-branch: true): the branch
        becomes main plus this run's changes; with none, the pull request closes and the
        branch goes."""
        branch = f"image-bump/{cluster}"
        if not changed:
            if self.has_branch(branch):
                git(self.root, "branch", "-q", "-D", branch)
            return
        git(checkout, "switch", "-q", "-C", branch)
        git(checkout, "add", "--", f"overlays/{cluster}")
        git(checkout, "commit", "-q", "-m", f"{cluster}: pin the newest images CI built ({sha})")
        git(checkout, "push", "-q", "--force", "origin", branch)


def resolve(value: Any, matrix: dict[str, Any], sha: str) -> str:
    """The step's `${{ matrix.* }}` and `${{ github.sha }}` values, as Actions fills them in."""
    text = str(value).replace("${{ github.sha }}", sha)
    for key, item in matrix.items():
        text = text.replace(f"${{{{ matrix.{key} }}}}", str(item))
    assert "${{" not in text, text
    return text


def copy(rel: str, root: Path) -> None:
    source, target = paths.REPO_ROOT / rel, root / rel
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


@pytest.fixture
def forge(tmp_path: Path) -> Forge:
    """The platform's repository: a first commit without any image's build context (like
    this repository's own), then one adding the three Dockerfiles. The overlays pin the
    commit they pin here, which the forge's history does not have."""
    root = init(tmp_path / "forge")
    for rel in TREE:
        copy(rel, root)
    for dockerfile in DOCKERFILES:
        (root / dockerfile).unlink(missing_ok=True)
    commit(root, "the platform, before its images")
    for dockerfile in DOCKERFILES:
        copy(dockerfile, root)
    commit(root, "the three images")
    return Forge(root, tmp_path)


def change(rel: str, text: str) -> dict[str, str]:
    return {rel: text}


def assert_pinned_exactly(
    before: dict[tuple[str, str], str],
    after: dict[tuple[str, str], str],
    cluster: str,
    sha: str,
    images: Iterable[str],
) -> None:
    """Every overlay entry of `images` pins the image built from `sha` (on EKS with its
    digest), and no other entry moved."""
    images = set(images)
    assert after.keys() == before.keys()
    for (path, image), reference in after.items():
        wanted = pin_of(image, sha, cluster) if image in images else before[(path, image)]
        assert reference == wanted, (path, image)
    assert {image for _, image in after} >= images - run_nowhere(cluster)


def run_nowhere(cluster: str) -> set[str]:
    """The service images no tenant of the cluster runs in the shipped tree: the run builds
    them and pins them nowhere."""
    overlays = paths.REPO_ROOT / "overlays" / cluster
    files = {str(p): p.read_text(encoding="utf-8") for p in overlays.rglob("kustomization.yaml")}
    return {FULL, SLIM} - {image for _, image in pins_in(files)}


def image_commit_faults(checkout: Path, cluster: str) -> list[str]:
    """validate's image-commits check on the run's checkout, for the cluster's overlays."""
    settings = replace(Settings.from_env(checkout), git_history=checkout)
    context = Context(checkout, {}, [], {}, CrdSet([]), settings=settings)
    found = [str(f) for f in image_commits.check(context)]
    return [f for f in found if f.startswith(f"overlays/{cluster}/")]


# --- every kind of run pins what it built -------------------------------------------------


@pytest.mark.parametrize("cluster", ["kind", "eks"])
def test_a_squash_merge_touching_service(forge: Forge, cluster: str) -> None:
    forge.branch("feature")
    forge.commit("feature", change("service/app/extra.py", "A = 1\n"), "service: one")
    forge.commit("feature", change("service/app/extra.py", "A = 2\n"), "service: two")
    sha = forge.squash_merge("feature")
    before = forge.pins(cluster)

    run = forge.run(sha, cluster)

    assert_pinned_exactly(before, forge.pins(cluster, f"image-bump/{cluster}"), cluster, sha, ALL)
    assert image_commit_faults(run.checkout, cluster) == []
    assert f"built from {sha} in this run" in run.body


@pytest.mark.parametrize("cluster", ["kind", "eks"])
def test_a_merge_commit_of_a_branch_touching_service(forge: Forge, cluster: str) -> None:
    sha = merged_branch(forge)
    before = forge.pins(cluster)

    run = forge.run(sha, cluster)

    assert_pinned_exactly(before, forge.pins(cluster, f"image-bump/{cluster}"), cluster, sha, ALL)
    assert image_commit_faults(run.checkout, cluster) == []


def merged_branch(forge: Forge) -> str:
    """A branch touching service/ merged with a merge commit while main moved on."""
    forge.branch("feature")
    forge.commit("feature", change("service/app/extra.py", "A = 1\n"), "service: a change")
    forge.commit("main", change("docs/notes.md", "meanwhile\n"), "docs on main")
    return forge.merge_commit("feature")


def switch_service_image(text: str) -> str:
    """A tenant kustomization switched to the other service image: the slim-image component
    listed (it renames the base's placeholder), or taken out with the slim pin renamed back."""
    component = "components:\n  - ../../components/slim-image\n"
    if component not in text:
        return text.replace("images:\n", f"{component}images:\n")
    return (
        text.replace(component, "")
        .replace(f"name: {SLIM}\n", f"name: {FULL}\n")
        .replace(f"{OWN}/{SLIM}", f"{OWN}/{FULL}")
    )


@pytest.mark.parametrize("cluster", ["kind", "eks"])
def test_each_service_image_is_pinned_only_where_a_tenant_runs_it(
    forge: Forge, cluster: str
) -> None:
    """Kind's tenants run the full image, EKS's the slim one: the other is pinned nowhere
    until tenant-b switches to it; then the next run pins it there and the first one in
    tenant-a."""
    (other,) = run_nowhere(cluster)
    (running,) = {FULL, SLIM} - {other}
    sha = forge.commit("main", change("service/app/extra.py", "A = 1\n"), "service: a change")
    run = forge.run(sha, cluster)
    assert f"{cluster} {other}: unchanged (no overlay of {cluster} runs it)" in run.output
    assert other not in {image for _, image in forge.pins(cluster, f"image-bump/{cluster}")}

    tenant = f"overlays/{cluster}/tenants/tenant-b/kustomization.yaml"
    text = (paths.REPO_ROOT / tenant).read_text(encoding="utf-8")
    newer = forge.commit("main", change(tenant, switch_service_image(text)), f"tenant-b: {other}")
    run = forge.run(newer, cluster)

    after = forge.pins(cluster, f"image-bump/{cluster}")
    assert after[(tenant, other)] == pin_of(other, newer, cluster)
    tenant_a = f"overlays/{cluster}/tenants/tenant-a/kustomization.yaml"
    assert after[(tenant_a, running)] == pin_of(running, newer, cluster)
    assert (tenant_a, other) not in after
    assert image_commit_faults(run.checkout, cluster) == []


def test_a_push_whose_last_commit_does_not_touch_service(forge: Forge) -> None:
    """Two commits pushed at once: the run is for the last, which only touches docs. Only the
    inference service was built (the others failed their scan): only it is pinned."""
    forge.commit("main", change("service/app/extra.py", "A = 1\n"), "service: a change")
    sha = forge.commit("main", change("docs/notes.md", "why\n"), "docs: why")
    before = forge.pins("kind")

    run = forge.run(sha, "kind", built=["inference-service"])

    after = forge.pins("kind", "image-bump/kind")
    assert_pinned_exactly(before, after, "kind", sha, ["inference-service"])
    assert "kind mlflow-server: unchanged (not built in this run)" in run.output


def test_a_dispatch_on_a_commit_touching_no_image(forge: Forge) -> None:
    sha = forge.commit("main", change("README.md", "the platform\n"), "README")
    before = forge.pins("eks")

    run = forge.run(sha, "eks")

    assert_pinned_exactly(before, forge.pins("eks", "image-bump/eks"), "eks", sha, ALL)
    assert image_commit_faults(run.checkout, "eks") == []


# --- the old step, planted: it skipped what the rule pins ---------------------------------


def scenario_commit(forge: Forge, scenario: str) -> str:
    """The commit a run of each kind is for."""
    if scenario == "squash merge":
        forge.branch("feature")
        forge.commit("feature", change("service/app/extra.py", "A = 1\n"), "service: a change")
        return forge.squash_merge("feature")
    if scenario == "merge commit":
        return merged_branch(forge)
    if scenario == "push":
        forge.commit("main", change("service/app/extra.py", "A = 1\n"), "service: a change")
        return forge.commit("main", change("docs/notes.md", "why\n"), "docs: why")
    return forge.commit("main", change("README.md", "the platform\n"), "README")  # dispatch


@pytest.mark.parametrize("scenario", ["merge commit", "push", "dispatch"])
def test_the_old_step_pinned_nothing_in_these_runs(forge: Forge, scenario: str) -> None:
    """Why the step was replaced, with the old step planted: `git log -1 origin/main --
    <context>` names the last commit that touched the folder, which is never a merge commit
    (git log follows the merged branch's commit), nor the last commit of a push that ends
    elsewhere, nor a dispatched commit touching no image. Every image was skipped, where the
    tests above show the pin step pinning all three."""
    sha = scenario_commit(forge, scenario)

    old = forge.run(sha, "kind", script=OLD_PIN_STEP)

    assert old.changed == []
    assert not forge.has_branch("image-bump/kind")
    for image, context in CONTEXTS.items():
        assert f"::notice::{sha} is not the newest change of {context} (" in old.output, image


def test_the_old_step_pinned_a_squash_merge(forge: Forge) -> None:
    """The control: the one kind of run the old step did pin, through the same stand-ins: a
    squash merge touching service/ (the merge is itself the folder's last commit), and only
    the image whose folder it touched."""
    sha = scenario_commit(forge, "squash merge")
    before = forge.pins("kind")

    # Without the slim image, which the old step predates: it bumped every reference, and
    # no overlay runs that one.
    forge.run(sha, "kind", [i for i in ALL if i != SLIM], script=OLD_PIN_STEP)

    after = forge.pins("kind", "image-bump/kind")
    assert_pinned_exactly(before, after, "kind", sha, ["inference-service"])


# --- runs that must not pin ---------------------------------------------------------------


def test_an_older_run_finishing_after_a_newer_one_moves_no_pin_back(forge: Forge) -> None:
    older = forge.commit("main", change("service/app/extra.py", "A = 1\n"), "service: older")
    newer = forge.commit("main", change("service/app/extra.py", "A = 2\n"), "service: newer")
    forge.run(newer, "kind")
    forge.merge_pin_request("kind")
    pinned = forge.pins("kind")

    run = forge.run(older, "kind")

    assert run.changed == []
    assert not forge.has_branch("image-bump/kind")
    assert forge.pins("kind") == pinned
    assert (
        f"kind inference-service: unchanged (this run's {older} is older than {newer} (on main))"
        in run.output
    )


def test_an_older_run_keeps_the_newer_open_pull_request(forge: Forge) -> None:
    """The EKS pull request waits for review: a newer run's pins are in it, not on main, when
    an older run finishes. create-pull-request rebuilds the branch from the older run's
    changes, so they must be the newer pins again."""
    older = forge.commit("main", change("service/app/extra.py", "A = 1\n"), "service: older")
    newer = forge.commit("main", change("service/app/extra.py", "A = 2\n"), "service: newer")
    on_main = forge.pins("eks")
    forge.run(newer, "eks")
    proposed = forge.pins("eks", "image-bump/eks")
    assert_pinned_exactly(on_main, proposed, "eks", newer, ALL)

    run = forge.run(older, "eks")

    assert forge.pins("eks", "image-bump/eks") == proposed
    assert forge.pins("eks") == on_main
    assert "kept from the open pin pull request; this run's" in run.body

    newest = forge.commit("main", change("service/app/extra.py", "A = 3\n"), "service: newest")
    forge.run(newest, "eks")
    assert_pinned_exactly(on_main, forge.pins("eks", "image-bump/eks"), "eks", newest, ALL)


def test_a_commit_whose_tree_cannot_build_the_images_pins_nothing(forge: Forge) -> None:
    """A run for the first commit (dispatched on a tag, say), before any Dockerfile existed,
    with references as if images had been published."""
    first = git(forge.root, "rev-list", "--max-parents=0", "main")
    before = forge.pins("kind")

    run = forge.run(first, "kind")

    assert run.changed == []
    assert forge.pins("kind") == before
    for image, context in CONTEXTS.items():
        why = f"the tree of {first} has no {context}/Dockerfile"
        if image == SLIM:
            why = "no overlay of kind runs it"
        assert f"kind {image}: unchanged ({why})" in run.output


def test_a_dispatch_on_a_branch_main_does_not_contain_pins_nothing(forge: Forge) -> None:
    forge.branch("experiment")
    sha = forge.commit("experiment", change("service/app/extra.py", "A = 9\n"), "try")

    run = forge.run(sha, "kind")

    assert run.changed == []
    assert f"kind inference-service: unchanged ({sha} is not in the history of main)" in run.output
