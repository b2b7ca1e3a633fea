"""`python -m gitops scaffold-tenant NAME`: add a tenant to every cluster (the plan:
gitops/edits/scaffold.py), then validate the result like the rest of the tree.

A command of its own because it joins an edit and the validation: edits do not import the
checks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gitops import paths
from gitops.edits.scaffold import ScaffoldError, plan


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m gitops scaffold-tenant")
    parser.add_argument("name", help="tenant name (DNS-1123 label), e.g. tenant-c")
    parser.add_argument("--dataset", default="iris")
    parser.add_argument("--estimator", default="logistic_regression")
    parser.add_argument("--repo", type=Path, default=paths.REPO_ROOT)
    parser.add_argument("--no-validate", action="store_true", help="skip the validation run")
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    try:
        result = plan(repo, args.name, args.dataset, args.estimator)
    except ScaffoldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    written = result.apply()
    print(f"tenant {result.name} added (copied from {result.source}):")
    for path in written:
        print(f"  {path.relative_to(repo)}")
    if args.no_validate:
        return 0
    # Imported here: loading every check costs a second that --no-validate does not need.
    from gitops.validate import format_report, validate_repo

    report = validate_repo(repo)
    print(format_report(report))
    print("validation:", "OK" if report.ok else f"FAILED ({len(report.findings)} problems)")
    return 0 if report.ok else 1
