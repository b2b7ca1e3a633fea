"""`schemas`: core Kubernetes objects against the schemas bundled with pip kubernetes-validate.

kubernetes-validate only warns when it has no schema for a kind; here that is an error
unless the kind is a custom resource whose CRD is pinned (those are checked by `crd-schemas`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
from kubernetes_validate import utils as kv_utils

from gitops.checks import Context, register
from gitops.settings import KUBERNETES_VERSION
from gitops.tree.crds import CrdSet
from gitops.tree.findings import Finding, obj_ref

CHECK = "schemas"


@register(
    CHECK,
    f"core objects match the Kubernetes {KUBERNETES_VERSION} schemas (strict, no unknown kinds)",
    order=20,
    generic=True,
)
def check(ctx: Context) -> Iterator[Finding]:
    for where, objects in ctx.outputs:
        yield from validate_objects(objects, where, ctx.crds)


def _install_schema_cache() -> None:
    # kubernetes-validate re-reads its 1.8 MB definitions file for every object; the
    # files never change within a process, so memoise the reader it calls.
    if not hasattr(kv_utils.schema_contents, "cache_info"):
        kv_utils.schema_contents = functools.cache(kv_utils.schema_contents)


@functools.cache
def _validate_cached(serialized: str) -> tuple[str, str] | None:
    """(problem, expected) for one object, or None when it is valid; cached by content
    because the same object is rendered by its base, its overlay and its Application."""
    obj = json.loads(serialized)
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path) or "<root>"
        return f"{where}: {exc.message}", f"a valid {obj['kind']} ({obj['apiVersion']})"
    except kubernetes_validate.SchemaNotFoundError:
        return (
            f"no schema for kind {obj['kind']} in apiVersion {obj['apiVersion']} "
            f"(unknown kind, or an apiVersion removed by Kubernetes {KUBERNETES_VERSION})",
            f"a kind served by Kubernetes {KUBERNETES_VERSION} or a custom resource with a "
            "pinned CRD",
        )
    return None


def validate_objects(objects: list[dict[str, Any]], where: str, crds: CrdSet) -> list[Finding]:
    _install_schema_cache()
    findings = []
    for obj in objects:
        if not isinstance(obj, dict) or "apiVersion" not in obj or "kind" not in obj:
            findings.append(Finding(CHECK, where, "", "document without apiVersion/kind"))
            continue
        if crds.knows_group(obj):
            continue  # custom resource: `crd-schemas` decides (including unserved versions)
        result = _validate_cached(json.dumps(obj, sort_keys=True))
        if result:
            findings.append(Finding(CHECK, where, obj_ref(obj), result[0], result[1]))
    return findings
