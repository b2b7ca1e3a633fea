"""The simulated API server: live objects, the kinds it serves, and what it refuses on create.

Modelled from the Kubernetes API's behaviour (kubernetes.io/docs/reference/using-api/,
.../access-authn-authz/admission-controllers/):
- a kind is served once it is built in, or its CustomResourceDefinition exists (installed by a
  manifest, by a Helm chart's crds/ or by the Argo CD install);
- a namespaced object can be created only in an existing namespace that is not terminating
  (NamespaceLifecycle admission: `namespaces "x" not found`);
- ResourceQuota object counts (`count/<resource>`, and the legacy `configmaps`, `secrets`,
  `services`, `persistentvolumeclaims`, `pods` keys) refuse a create past the hard limit
  (`exceeded quota: <name>, requested: ..., used: ..., limited: ...`).
Pods are admitted by gitops/simulation/pods.py (Pod Security, ServiceAccount, LimitRange,
quota on requests and limits), which uses this module's state.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from gitops.simulation.keys import Key, group_of, key_of
from gitops.tree.crds import CrdSet
from gitops.tree.findings import labels_of
from gitops.tree.namespacing import CLUSTER_SCOPED_KINDS

# Object-count quota keys (legacy names) -> the kind they count.
_LEGACY_COUNTS = {
    "configmaps": ("", "ConfigMap"),
    "secrets": ("", "Secret"),
    "services": ("", "Service"),
    "persistentvolumeclaims": ("", "PersistentVolumeClaim"),
    "pods": ("", "Pod"),
    "replicationcontrollers": ("", "ReplicationController"),
    "resourcequotas": ("", "ResourceQuota"),
}
# `count/<plural>.<group>` -> (group, kind) for the kinds this tree deploys.
_PLURALS = {
    "configmaps": ("", "ConfigMap"),
    "secrets": ("", "Secret"),
    "services": ("", "Service"),
    "serviceaccounts": ("", "ServiceAccount"),
    "persistentvolumeclaims": ("", "PersistentVolumeClaim"),
    "deployments.apps": ("apps", "Deployment"),
    "statefulsets.apps": ("apps", "StatefulSet"),
    "jobs.batch": ("batch", "Job"),
    "horizontalpodautoscalers.autoscaling": ("autoscaling", "HorizontalPodAutoscaler"),
    "ingresses.networking.k8s.io": ("networking.k8s.io", "Ingress"),
}


class Refused(Exception):
    """The API server refused a request; the message is what kubectl would print."""


class Cluster:
    def __init__(self, crds: CrdSet) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        # admission webhooks: (object, CREATE|UPDATE|DELETE) -> why refused ("" if admitted)
        self.webhooks: Callable[[dict[str, Any], str], str] = lambda _obj, _op: ""
        self._crds = crds  # the pinned CRDs: which groups are custom, and each kind's scope
        self.served: set[tuple[str, str]] = set()  # custom (group, kind) installed

    # --- what exists --------------------------------------------------------------------

    def get(self, key: Key) -> dict[str, Any] | None:
        return self.objects.get(key)

    def of_kind(self, group: str, kind: str, namespace: str | None = None) -> Iterator[dict]:
        for key, obj in list(self.objects.items()):
            same_namespace = namespace is None or key.namespace == namespace
            if key.group == group and key.kind == kind and same_namespace:
                yield obj

    def namespace_exists(self, name: str) -> bool:
        return Key("", "Namespace", "", name) in self.objects

    def namespace_labels(self, name: str) -> dict[str, str]:
        namespace = self.objects.get(Key("", "Namespace", "", name))
        labels = labels_of(namespace) if namespace else {}
        # The API server sets this label on every namespace (since 1.22).
        return {**labels, "kubernetes.io/metadata.name": name}

    def is_custom(self, obj: dict[str, Any]) -> bool:
        return group_of(obj) in self._crds.groups or group_of(obj) in {g for g, _ in self.served}

    def is_namespaced(self, obj: dict[str, Any]) -> bool:
        scope = self._crds.scope(obj)
        if scope is not None:
            return scope == "Namespaced"
        return str(obj.get("kind", "")) not in CLUSTER_SCOPED_KINDS

    def serves(self, obj: dict[str, Any]) -> bool:
        if not self.is_custom(obj):
            return True
        return (group_of(obj), str(obj.get("kind", ""))) in self.served

    def install_crds(self, kinds: Iterator[tuple[str, str]] | set[tuple[str, str]]) -> None:
        self.served.update(kinds)

    # --- writes -------------------------------------------------------------------------

    def create_or_update(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Apply `obj` as the API server would; raises Refused with kubectl's message."""
        key = key_of(obj)
        if not self.serves(obj):
            raise Refused(
                f"the server could not find the requested resource "
                f"({obj.get('apiVersion')}, Kind={key.kind}): no CustomResourceDefinition "
                f"for {key.kind}.{key.group} is installed"
            )
        if key.namespace and self.is_namespaced(obj):
            if not self.namespace_exists(key.namespace):
                raise Refused(f'namespaces "{key.namespace}" not found')
            if key not in self.objects:
                self._count_quota(key)
        live = self.objects.get(key)
        refusal = self.webhooks(obj, "UPDATE" if live is not None else "CREATE")
        if refusal:
            raise Refused(refusal)
        new = copy.deepcopy(obj)
        _defaults(new, live)
        if live is not None and "status" in live and "status" not in new:
            new["status"] = live["status"]
        self.objects[key] = new
        if key.kind == "Namespace" and not key.group and live is None:
            self._namespace_defaults(key.name)
        if key.group == "apiextensions.k8s.io" and key.kind == "CustomResourceDefinition":
            # The API server's CRD controllers accept the names and establish the kind.
            spec = new.get("spec") or {}
            self.served.add((str(spec.get("group")), str((spec.get("names") or {}).get("kind"))))
            new["status"] = {
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"},
                ]
            }
        return new

    def _namespace_defaults(self, namespace: str) -> None:
        """What the control plane adds to every new namespace: the ServiceAccount `default`
        (serviceaccounts controller) and the ConfigMap `kube-root-ca.crt` (root CA
        publisher); both count against the namespace's quota like any other object."""
        for kind, name in (("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")):
            self.objects.setdefault(
                Key("", kind, namespace, name),
                {
                    "apiVersion": "v1",
                    "kind": kind,
                    "metadata": {"name": name, "namespace": namespace},
                },
            )

    def delete(self, key: Key) -> None:
        live = self.objects.get(key)
        if live is not None:
            refusal = self.webhooks(live, "DELETE")
            if refusal:
                raise Refused(refusal)
        self.objects.pop(key, None)
        if key.kind == "Namespace" and not key.group:
            for other in [k for k in self.objects if k.namespace == key.name]:
                del self.objects[other]

    def _count_quota(self, key: Key) -> None:
        for quota in self.of_kind("", "ResourceQuota", key.namespace):
            hard = (quota.get("spec") or {}).get("hard") or {}
            for name, limit in hard.items():
                counted = _LEGACY_COUNTS.get(name) or (
                    _PLURALS.get(name[len("count/") :]) if name.startswith("count/") else None
                )
                if counted != key.group_kind:
                    continue
                used = sum(
                    1
                    for k in self.objects
                    if k.namespace == key.namespace and k.group_kind == counted
                )
                if used + 1 > int(str(limit)):
                    quota_name = (quota.get("metadata") or {}).get("name")
                    raise Refused(
                        f'{key.kind.lower()}s "{key.name}" is forbidden: exceeded quota: '
                        f"{quota_name}, requested: {name}=1, used: {name}={used}, "
                        f"limited: {name}={limit}"
                    )


def _defaults(new: dict[str, Any], live: dict[str, Any] | None) -> None:
    """What the API server fills in that health checks read: metadata.generation (1 on
    create, one more on each change of the spec) and the replica count of the scalable
    workloads (1 when unset; pkg/apis/apps/v1/defaults.go). Without them a Deployment that no
    controller has seen would look rolled out."""
    meta = new.setdefault("metadata", {})
    generation = int((live or {}).get("metadata", {}).get("generation", 0))
    if live is None or live.get("spec") != new.get("spec"):
        generation += 1
    meta["generation"] = max(generation, 1)
    if new.get("kind") in ("Deployment", "StatefulSet", "ReplicaSet") and isinstance(
        new.get("spec"), dict
    ):
        new["spec"].setdefault("replicas", 1)
