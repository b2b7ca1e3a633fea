"""`python -m gitops set-repository URL` (`make repository URL=...`): point the tree at a
fork, wherever it names its repository (Argo CD's repoURL and sourceRepos, the image path CI
publishes under, runbook links, the tooling's REPO_URL), then validate.

    python -m gitops set-repository https://github.com/acme/ml-platform.git

The occurrences are those of gitops/tree/repository_url.py; a URL that is not a GitHub
repository, or a tree that no longer names the example, is refused with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gitops import paths
from gitops.tree.repository_url import EXAMPLE, RepositoryUrlError, parse, rewrite


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m gitops set-repository")
    parser.add_argument("url", help="your repository, e.g. https://github.com/acme/ml-platform.git")
    parser.add_argument("--repo", type=Path, default=paths.REPO_ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--no-validate", action="store_true", help="skip the validation run")
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    try:
        new = parse(args.url)
    except RepositoryUrlError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    changed = rewrite(repo, new.url)
    if not changed:
        print(
            f"error: nothing names {EXAMPLE.slug} any more; the tree already points elsewhere",
            file=sys.stderr,
        )
        return 2
    print(f"the tree now names {new.url} (images under {new.packages}/):")
    for path in changed:
        print(f"  {path.relative_to(repo)}")
    if args.no_validate:
        return 0
    from gitops.validate import format_report, validate_repo

    report = validate_repo(repo)
    print(format_report(report))
    return 0 if report.ok else 1
