"""`image-commits`: every pin of an image CI builds names a commit this tree grew from whose
tree builds that image (its Dockerfile, and what the matrix entry's build-args need:
gitops/tree/build_inputs.py).

CI tags each image it builds with the commit it built it from (.github/workflows/image.yaml),
so a pin `<image>:<commit>` can only exist in the registry if that commit's tree holds the
image's build context (jobs.build.strategy.matrix.include[].context) with its Dockerfile. A pin
that fails this can never be pulled on EKS; Kind hides it, because its bootstrap builds a
missing image locally from the working tree. "A commit this tree grew from" is an ancestor of
HEAD: a commit only a deleted branch reached would go with it (gitops/tree/git_history.py).

The history is the validated tree's own, or the clone GITOPS_GIT_HISTORY names (for a copy
without .git). A shallow clone or a folder outside git cannot answer, and that is reported as
such, once, instead of as wrong pins. Tags that are not 40-hex commits are the `images` check's
finding and are left to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from gitops.checks import Context, register
from gitops.tree.build_inputs import build_input_problem
from gitops.tree.findings import Finding
from gitops.tree.git_history import COMMIT, GitHistory, HistoryState
from gitops.tree.inventory import IMAGE_WORKFLOW, built_images
from gitops.tree.pins import CONTAINER_IMAGE, Pin, find_pins

CHECK = "image-commits"


@register(
    CHECK,
    "every pin of an image CI builds names a commit in the history of HEAD whose tree holds "
    "that image's Dockerfile",
)
def check(ctx: Context) -> Iterator[Finding]:
    if not (ctx.root / IMAGE_WORKFLOW).is_file():
        return
    images = {image.name: image for image in built_images(ctx.root)}
    contexts = {name: image.context for name, image in images.items()}
    pins = [p for p in ci_pins(find_pins(ctx.root), set(contexts)) if COMMIT.match(p.version)]
    ctx.stats[CHECK] = len(pins)
    if not pins:
        return
    history = GitHistory(ctx.settings.git_history)
    state = history.state()
    if state is not HistoryState.FULL:
        yield _no_history(ctx, history, state, pins)
        return
    problems: dict[tuple[str, str], str] = {}  # (commit, image) -> problem: git once each
    for pin in pins:
        image = images[pin.component]
        key = (pin.version, image.name)
        if key not in problems:
            problems[key] = pin_problem(
                history, pin.version, image.context, image.build_args, ctx.root
            )
        problem = problems[key]
        if problem:
            yield Finding(
                CHECK,
                pin.where,
                "",
                f"{pin.component} pins commit {pin.version}, {problem}",
                f"the commit CI built {pin.component} from: one in the history of HEAD whose "
                f"tree holds {contexts[pin.component]}/Dockerfile"
                + (" and what its build-args need" if image.build_args else ""),
            )


def ci_pins(pins: list[Pin], built: set[str]) -> list[Pin]:
    """The container image pins of the images CI builds (by the image's last path component);
    a pin's `version` is its tag when it has one."""
    return [p for p in pins if p.kind == CONTAINER_IMAGE and p.component in built]


def pin_problem(
    history: GitHistory,
    commit: str,
    context: str,
    build_args: tuple[str, ...] = (),
    tree: Path | None = None,
) -> str:
    """Why `commit` cannot be the commit an image built from `context` (with `build_args`)
    was tagged with ('' if it can)."""
    if not history.is_commit(commit):
        return "which is not a commit of this repository"
    if not history.in_history(commit):
        return "which is not in the history of HEAD (a commit of a branch that was not merged?)"
    dockerfile = f"{context}/Dockerfile"
    if not history.has_file(commit, dockerfile):
        return f"whose tree has no {dockerfile}, so CI cannot have built the image from it"
    problem = build_input_problem(history, commit, context, build_args, tree or history.repo)
    return f"whose tree cannot build the image as CI does: {problem}" if problem else ""


def _no_history(ctx: Context, history: GitHistory, state: HistoryState, pins: list[Pin]) -> Finding:
    shown = ", ".join(sorted({p.where for p in pins})[:3]) + (", ..." if len(pins) > 3 else "")
    where = str(history.repo) if history.repo != ctx.root else "."
    if state is HistoryState.SHALLOW:
        problem = (
            f"a shallow clone: the history is absent, so the commits {len(pins)} image pins "
            f"name ({shown}) cannot be checked"
        )
        expected = (
            "the full history: git fetch --unshallow (in CI: actions/checkout fetch-depth: 0)"
        )
    else:
        problem = (
            f"not a git repository: the commits {len(pins)} image pins name ({shown}) cannot be "
            "checked"
        )
        expected = "a git clone, or GITOPS_GIT_HISTORY=<the clone this tree was copied from>"
    return Finding(CHECK, where, "", problem, expected)
