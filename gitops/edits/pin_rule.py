"""The rule of CI's pin step: does a cluster get the image built from commit SHA?

Pin the image built from SHA when all of these hold:

1. It was built at SHA in this run: its reference file exists. The build job writes one only
   after Trivy passed and the scanned digest got the tag SHA, so no reference, no image.
2. SHA is in the history of main (the checkout's HEAD). A workflow_dispatch on another branch
   builds images of commits main may never contain, and the `image-commits` check rejects a
   pin of a commit outside the history.
3. SHA's tree holds the image's build context with its Dockerfile, where main's build matrix
   says the image is built from, and what the entry's build-args need
   (gitops/tree/build_inputs.py). The `image-commits` check demands the same of every pin, so
   a pull request pinning anything else could never pass; and a reference without it was
   built from a folder main no longer builds the image from.
4. SHA is not older than any commit the cluster pins now, on main or in the open pin pull
   request: SHA equals or descends from each (`git merge-base --is-ancestor pinned SHA`).
   Runs finish in any order, and an older one finishing last must not move a pin back. A
   pinned commit that is not in main's history, or not a 40-hex commit, counts as older: it
   cannot be compared, and the `image-commits` check rejects it anyway.

Which run's commit is the newest is a question of history, not of which folders a commit
touched: a merge commit, a push of several commits and a workflow_dispatch all build every
image from the tree at SHA, so all of them pin.

The open pin pull request: peter-evans/create-pull-request rebuilds its branch on every run
from main plus that run's changes, and closes the pull request when there are none
(v8.1.1, src/create-or-update-branch.ts and README.md "How the action behaves"). So when
this run does not pin an image, the pull request's pin of it is written again, if it still
satisfies 2 to 4 against main; otherwise an older run finishing last would drop the newer
pin from the pull request, or close it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gitops.tree.build_inputs import build_input_problem
from gitops.tree.git_history import GitHistory
from gitops.tree.image_reference import ImageReference
from gitops.tree.inventory import BuiltImage

# Where a pinned commit was found, as the decisions say it.
ON_MAIN = "on main"
IN_PULL_REQUEST = "in the open pin pull request"


@dataclass(frozen=True)
class Decision:
    image: str
    write: ImageReference | None  # what the cluster's overlays get; None: they stay as they are
    why: str


def pinnable(
    history: GitHistory, commit: str, context: str, build_args: tuple[str, ...] = ()
) -> str:
    """Why an image tagged `commit` and built from `context` (with `build_args`) cannot be
    pinned ('' if it can): conditions 2 and 3."""
    if not history.is_commit(commit):
        return f"{commit} is not a commit of this repository"
    if not history.in_history(commit):
        return f"{commit} is not in the history of main"
    if not history.has_file(commit, f"{context}/Dockerfile"):
        return f"the tree of {commit} has no {context}/Dockerfile"
    problem = build_input_problem(history, commit, context, build_args, history.repo)
    return f"the tree of {commit} cannot build it as CI does: {problem}" if problem else ""


def newer_pin(history: GitHistory, commit: str, pinned: Mapping[str, str]) -> str:
    """A pinned commit (with where it is pinned) that `commit` does not equal or descend from,
    or '': condition 4. `pinned` maps each commit to where it is pinned."""
    for other, where in sorted(pinned.items()):
        counts = history.is_commit(other) and history.in_history(other)
        if counts and not history.is_ancestor(other, commit):
            return f"{other} ({where})"
    return ""


def decide(
    history: GitHistory,
    image: BuiltImage,
    built: ImageReference | None,
    on_main: set[str],
    proposed: ImageReference | None,
) -> Decision:
    """What the cluster's overlays get for `image`: `built` (this run's reference, tagged with
    its commit, in the cluster's form), or `proposed` (the open pin pull request's pin of the
    image, when it differs from main's), or nothing. `on_main`: the commits main pins it at."""
    pinned = dict.fromkeys(on_main, ON_MAIN)
    if proposed is not None and proposed.tag:
        pinned.setdefault(proposed.tag, IN_PULL_REQUEST)
    if built is None or not built.tag:
        why_not = "not built in this run"
    else:
        why_not = pinnable(history, built.tag, image.context, image.build_args)
        if not why_not:
            newer = newer_pin(history, built.tag, pinned)
            if not newer:
                return Decision(image.name, built, f"built from {built.tag} in this run")
            why_not = f"this run's {built.tag} is older than {newer}"
    if proposed is not None and proposed.tag:
        keep = pinnable(history, proposed.tag, image.context, image.build_args) or newer_pin(
            history, proposed.tag, dict.fromkeys(on_main, ON_MAIN)
        )
        if not keep:
            return Decision(image.name, proposed, f"kept from the open pin pull request; {why_not}")
    return Decision(image.name, None, why_not)
