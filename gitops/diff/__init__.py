"""`python -m gitops diff`: what a change does to the rendered manifests, per Argo CD app.

Renders every Application of every cluster at the base ref and at the head (a ref or the
working tree) (apps.py), compares them resource by resource (resources.py) and writes a
report for a PR comment (report.py). Reads the tree; knows nothing of the checks or edits.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

from gitops.diff.apps import collect
from gitops.diff.report import DEFAULT_MAX_CHARS
from gitops.diff.report import build as build_report
from gitops.diff.resources import compare
from gitops.paths import REPO_ROOT
from gitops.tree import git_snapshot

WORKTREE = "worktree"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gitops diff",
        description="Rendered manifest diff between a base ref and the head, per application.",
    )
    parser.add_argument(
        "--base", required=True, help="git ref to compare against, e.g. origin/main"
    )
    parser.add_argument(
        "--head", default=WORKTREE, help="git ref, or `worktree` (default) for the working tree"
    )
    parser.add_argument("--format", choices=("markdown", "text"), default="markdown")
    parser.add_argument("--output", type=Path, help="write the report here instead of stdout")
    parser.add_argument("--output-full", type=Path, help="also write the untruncated report here")
    parser.add_argument(
        "--max-chars",
        type=int,
        default=DEFAULT_MAX_CHARS,
        help="cut the report's diffs to this size (the summary always stays)",
    )
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="repository to compare in")
    parser.add_argument(
        "--repo-url",
        action="append",
        default=[],
        help="extra URL under which Argo CD knows this repository (repeatable)",
    )
    return parser


def _label(ref: str, commit: str) -> str:
    return commit[:12] if commit.startswith(ref) else f"{ref} ({commit[:12]})"


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.max_chars < 1000:
        print(f"--max-chars {args.max_chars} is too small: expected at least 1000", file=sys.stderr)
        return 2
    repo = args.repo.resolve()
    try:
        base_commit = git_snapshot.resolve(repo, args.base)
        head_commit = None if args.head == WORKTREE else git_snapshot.resolve(repo, args.head)
    except git_snapshot.GitRefError as error:
        print(f"--base/--head: {error}", file=sys.stderr)
        return 2

    with ExitStack() as stack:
        base_root = stack.enter_context(git_snapshot.snapshot(repo, base_commit))
        head_root = (
            repo
            if head_commit is None
            else stack.enter_context(git_snapshot.snapshot(repo, head_commit))
        )
        urls = set(args.repo_url)
        base_apps = collect(base_root, urls)
        head_apps = collect(head_root, urls)

    apps = compare(base_apps, head_apps)
    base_label = _label(args.base, base_commit)
    head_label = "working tree" if head_commit is None else _label(args.head, head_commit)
    report, full = build_report(apps, base_label, head_label, args.format, args.max_chars)
    if args.output_full:
        args.output_full.write_text(full)
    if args.output:
        args.output.write_text(report)
    else:
        sys.stdout.write(report)
    for app in apps:
        for error in app.errors:
            print(f"warning: {app.key}: {error}", file=sys.stderr)
    return 0
