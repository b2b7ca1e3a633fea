"""`pod-security`: Pod Security Standards "restricted" (as documented by Kubernetes) for
every pod template, plus readOnlyRootFilesystem for tenant containers (a requirement of this
platform)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gitops.checks import Context, register
from gitops.settings import UPSTREAM_NAMESPACES
from gitops.tree.findings import Finding, namespace_of, obj_ref
from gitops.tree.pod_security_standards import (
    read_only_root_violations,
    restricted_violations,
)
from gitops.tree.selectors import pod_template

CHECK = "pod-security"


@register(
    CHECK,
    "pod templates meet Pod Security restricted (+ read-only root for tenants)",
    order=80,
    generic=True,
)
def check(ctx: Context) -> Iterator[Finding]:
    for where, objects in ctx.outputs:
        yield from check_objects(objects, where, UPSTREAM_NAMESPACES, ctx.all_tenants)


def check_objects(
    objects: list[dict[str, Any]],
    where: str,
    exempt_namespaces: frozenset[str],
    tenant_namespaces: frozenset[str],
) -> list[Finding]:
    findings = []
    for obj in objects:
        template = pod_template(obj) if isinstance(obj, dict) else None
        if template is None or namespace_of(obj) in exempt_namespaces:
            continue
        problems = restricted_violations(template)
        if namespace_of(obj) in tenant_namespaces:
            problems += read_only_root_violations(template)
        findings += [
            Finding(CHECK, where, obj_ref(obj), problem, expected) for problem, expected in problems
        ]
    return findings
