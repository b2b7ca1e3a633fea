"""Which objects are namespaced: the built-in cluster-scoped kinds, and each pinned CRD's
scope. Argo CD puts a namespaced object without a namespace into its Application's
destination namespace, so the Application tree needs to know."""

from __future__ import annotations

from typing import Any

from gitops.tree.crds import CrdSet

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


def is_namespaced(obj: dict[str, Any], crds: CrdSet) -> bool:
    kind = obj.get("kind", "")
    scope = crds.scope(obj)
    if scope is not None:
        return scope == "Namespaced"
    return kind not in CLUSTER_SCOPED_KINDS
