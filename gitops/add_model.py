"""`python -m gitops add-model TENANT NAME`: declare the model <TENANT>-<NAME> on every cluster
the tenant has (the plan: gitops/edits/add_model.py), then validate the result like the rest
of the tree (`make model TENANT=... MODEL=...`).

A command of its own because it joins an edit and the validation: edits do not import the
checks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gitops import paths
from gitops.edits.add_model import AddModelError, plan
from inference.contracts.tenant_models import RESOURCE_CLASSES


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gitops add-model",
        description="Declare a model of a tenant on every cluster (docs/models.md).",
    )
    parser.add_argument("tenant", help="an existing tenant, e.g. tenant-a")
    parser.add_argument("name", help="the model's name after the tenant's: churn -> tenant-a-churn")
    parser.add_argument(
        "--alias", help="the alias it follows on every cluster (default: the tenant's, per cluster)"
    )
    parser.add_argument(
        "--dedicated", action="store_true", help="serve it from a Deployment of its own"
    )
    parser.add_argument(
        "--resources", choices=list(RESOURCE_CLASSES), help="its memory class (default: small)"
    )
    parser.add_argument("--repo", type=Path, default=paths.REPO_ROOT)
    parser.add_argument("--no-validate", action="store_true", help="skip the validation run")
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    try:
        result = plan(
            repo,
            args.tenant,
            args.name,
            alias=args.alias,
            dedicated=args.dedicated,
            resources=args.resources,
        )
    except AddModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    written = result.apply()
    where = ", ".join(f"{c} {p}" for c, p in result.pointers.items())
    own = f", served by its own Deployment {result.service}" if result.dedicated else ""
    print(f"{result.model} declared for {result.tenant} ({where}){own}:")
    for path in written:
        print(f"  {path.relative_to(repo)}")
    aliases = " and ".join(f"{p.removeprefix('@')} ({c})" for c, p in result.pointers.items())
    print(
        "next:\n"
        f"  1. register a first version of {result.model} and set its alias, {aliases}, "
        "before this is synced: the tenant's service is ready only once every model it "
        "declares has a version (docs/models.md)\n"
        "  2. let the tenant's service read it and its team's writer user write it, as the "
        "MLflow admin: python -m training.registry_access provision-tenant --models "
        f"overlays/<cluster>/tenants/{result.tenant}/models.yaml (the bootstrap scripts and "
        "clusters/eks/sync.sh do it for every declared model)\n"
        "  3. open a pull request: its rendered diff shows the new ConfigMap tenant-models and "
        "the rollout of the Deployment that serves the model"
    )
    if args.no_validate:
        return 0
    # Imported here: loading every check costs a second that --no-validate does not need.
    from gitops.validate import format_report, validate_repo

    report = validate_repo(repo)
    print(format_report(report))
    print("validation:", "OK" if report.ok else f"FAILED ({len(report.findings)} problems)")
    return 0 if report.ok else 1
