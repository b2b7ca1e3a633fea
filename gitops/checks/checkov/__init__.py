"""`checkov`: zero failed checkov checks on everything deployed, in one checkov run.

What is scanned: each Application's output as Argo CD would deploy it (namespaces filled
in), plus the overlays/ and clusters/ kustomizations no Application deploys. Bases alone are
building blocks (no namespace yet), covered through the overlays using them. Tenants that
render alike but for their name are scanned once (tenants.py), and the scan runs in one
interpreter started by `prepare`, before anything is rendered, so checkov's imports overlap
the rendering (scanner.py). The check runs in the background beside the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gitops.checks import Context, register
from gitops.checks.checkov.scanner import CHECK, Scanner
from gitops.checks.checkov.tenants import TENANT_LABEL, collapse, expand
from gitops.settings import Settings
from gitops.tree.findings import Finding


def prepare(settings: Settings) -> Scanner:
    return Scanner(settings.checkov)


@register(
    CHECK,
    "checkov passes on everything deployed (run once over all of it)",
    order=100,
    background=True,
    prepare=prepare,
    generic=True,
)
def check(ctx: Context) -> Iterable[Finding]:
    scanner = ctx.prepared.get(CHECK) or prepare(ctx.settings)
    collapsed = collapse(*groups(ctx))
    ctx.stats["checkov_inputs"] = len(collapsed.groups)
    return expand(scanner.scan(collapsed.groups), collapsed)


def groups(ctx: Context) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """label -> objects checkov scans, and label -> tenant for each tenant Application (the
    tenant its label names)."""
    scanned: dict[str, list[dict[str, Any]]] = {}
    tenants: dict[str, str] = {}
    for tree in ctx.trees:
        for app in tree.apps:
            if app.objects:
                scanned[app.where] = app.objects
                labels = (app.obj.get("metadata") or {}).get("labels") or {}
                if labels.get(TENANT_LABEL):
                    tenants[app.where] = str(labels[TENANT_LABEL])
    covered = {p for t in ctx.trees for p in t.covered}
    for r in ctx.built:
        top = r.rel.split("/", 1)[0]
        if top in ("overlays", "clusters") and r.path not in covered and r.objects:
            scanned[r.rel] = r.objects
    return scanned, tenants
