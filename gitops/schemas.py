"""Core Kubernetes objects against the schemas bundled with pip kubernetes-validate.

kubernetes-validate only warns when it has no schema for a kind; here that is an error
unless the kind is a custom resource whose CRD is pinned (those are checked by crd_schemas).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import kubernetes_validate
from kubernetes_validate import utils as kv_utils

from gitops.crd_schemas import CrdSet
from gitops.findings import Finding, obj_ref
from gitops.settings import KUBERNETES_VERSION

CHECK = "schemas"

# Built-in kinds that are not namespaced (from the Kubernetes API reference, 1.36).
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterTrustBundle",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "DeviceClass",
        "FlowSchema",
        "IngressClass",
        "IPAddress",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "ResourceSlice",
        "RuntimeClass",
        "SelfSubjectAccessReview",
        "SelfSubjectReview",
        "SelfSubjectRulesReview",
        "ServiceCIDR",
        "StorageClass",
        "StorageVersionMigration",
        "SubjectAccessReview",
        "TokenReview",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeAttributesClass",
    }
)


def _install_schema_cache() -> None:
    # kubernetes-validate re-reads its 1.8 MB definitions file for every object; the
    # files never change within a process, so memoise the reader it calls.
    if not hasattr(kv_utils.schema_contents, "cache_info"):
        kv_utils.schema_contents = functools.cache(kv_utils.schema_contents)


def is_namespaced(obj: dict[str, Any], crds: CrdSet) -> bool:
    kind = obj.get("kind", "")
    scope = crds.scope(obj)
    if scope is not None:
        return scope == "Namespaced"
    return kind not in CLUSTER_SCOPED_KINDS


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
            continue  # custom resource: crd_schemas decides (including unserved versions)
        result = _validate_cached(json.dumps(obj, sort_keys=True))
        if result:
            findings.append(Finding(CHECK, where, obj_ref(obj), result[0], result[1]))
    return findings
