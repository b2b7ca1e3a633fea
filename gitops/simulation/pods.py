"""A pod's life in the simulation: admitted by the API server, started by the kubelet, ready.

Admission, in the order the API server's admission plugins run for a pod
(kubernetes.io/docs/reference/access-authn-authz/admission-controllers/):
- ServiceAccount: the pod's ServiceAccount must exist (`error looking up service account`);
  the ServiceAccount controller creates `default` in every namespace;
- LimitRanger: containers without requests/limits get the namespace's LimitRange defaults;
  a container outside [min, max] is refused;
- PodSecurity: the namespace's `pod-security.kubernetes.io/enforce` level
  (gitops/tree/pod_security_standards.py);
- ResourceQuota: with a quota on requests/limits, a container that sets none is refused
  (`must specify ...`), and the namespace's pods may not exceed `hard`.
A refused pod is never created: its ReplicaSet reports FailedCreate and the Deployment never
becomes available.

The kubelet (kubernetes.io/docs/concepts/containers/images/, .../configuration/secret/,
.../configmap/): a container starts once its image can be pulled (a registry that needs
credentials needs the pod's imagePullSecrets), every ConfigMap and Secret (and key) it reads
through env, envFrom or a volume exists unless marked optional, and every
PersistentVolumeClaim it mounts is bound.

Readiness: what each image's readiness probe asks of the world (gitops/simulation/readiness.py).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from gitops.simulation.cluster import Cluster
from gitops.simulation.keys import Key
from gitops.simulation.world import World
from gitops.tree.findings import name_of
from gitops.tree.pins import split_image
from gitops.tree.pod_resources import (
    QUOTA_KEYS,
    RESOURCES,
    Defaults,
    container_amounts,
    format_quantity,
    limit_range_defaults,
    parse_quantity,
    pod_amounts,
)
from gitops.tree.pod_security_standards import enforced_violations
from gitops.tree.selectors import containers

ENFORCE = "pod-security.kubernetes.io/enforce"


@dataclass(frozen=True)
class PodState:
    admitted: bool
    started: bool
    ready: bool
    reason: str = ""  # why not admitted, started or ready


# --- values a pod reads -------------------------------------------------------------------


def secret_data(cluster: Cluster, namespace: str, name: str) -> dict[str, str] | None:
    """The decoded data of a Secret, None when it does not exist."""
    secret = cluster.get(Key("", "Secret", namespace, name))
    if secret is None:
        return None
    out = {k: str(v) for k, v in (secret.get("stringData") or {}).items()}
    for key, value in (secret.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(str(value)).decode()
        except ValueError:
            out[key] = str(value)
    return out


def configmap_data(cluster: Cluster, namespace: str, name: str) -> dict[str, str] | None:
    config = cluster.get(Key("", "ConfigMap", namespace, name))
    return None if config is None else {k: str(v) for k, v in (config.get("data") or {}).items()}


def container_env(container: dict[str, Any], namespace: str, cluster: Cluster) -> dict[str, str]:
    """The environment the container would see (what exists of it)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            env |= configmap_data(cluster, namespace, source["configMapRef"].get("name")) or {}
        if "secretRef" in source:
            env |= secret_data(cluster, namespace, source["secretRef"].get("name")) or {}
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = str(var["value"])
            continue
        ref = var.get("valueFrom") or {}
        if "secretKeyRef" in ref:
            data = secret_data(cluster, namespace, ref["secretKeyRef"].get("name")) or {}
        elif "configMapKeyRef" in ref:
            data = configmap_data(cluster, namespace, ref["configMapKeyRef"].get("name")) or {}
        else:
            continue
        key = (ref.get("secretKeyRef") or ref.get("configMapKeyRef") or {}).get("key")
        if key in data:
            env[var["name"]] = data[key]
    return env


# --- admission ----------------------------------------------------------------------------


def namespace_defaults(cluster: Cluster, namespace: str) -> Defaults:
    for limit_range in cluster.of_kind("", "LimitRange", namespace):
        for item in (limit_range.get("spec") or {}).get("limits") or []:
            if item.get("type") == "Container":
                return limit_range_defaults(item, f"LimitRange {name_of(limit_range)}")
    return Defaults()


def admission_problem(
    spec: dict[str, Any], namespace: str, cluster: Cluster, used: dict[str, Fraction]
) -> str:
    """Why the API server refuses this pod ("" when it admits it); `used`: what the pods
    already admitted in the namespace take of each quota key (updated when admitted)."""
    account = spec.get("serviceAccountName") or "default"
    if account != "default" and cluster.get(Key("", "ServiceAccount", namespace, account)) is None:
        return (
            f"error looking up service account {namespace}/{account}: "
            f'serviceaccount "{account}" not found'
        )
    defaults = namespace_defaults(cluster, namespace)
    for container in containers(spec):
        values = container_amounts(container, defaults)
        for resource in RESOURCES:
            limit = values[f"limits.{resource}"]
            low, high = defaults.minimum.get(resource), defaults.maximum.get(resource)
            if high is not None and limit is not None and limit > high:
                return (
                    f"maximum {resource} usage per Container is {format_quantity(high, resource)}"
                    f", but limit is {format_quantity(limit, resource)} "
                    f"(container {container.get('name')})"
                )
            request = values[f"requests.{resource}"]
            if low is not None and request is not None and request < low:
                return (
                    f"minimum {resource} usage per Container is {format_quantity(low, resource)}"
                    f", but request is {format_quantity(request, resource)}"
                )
    level = cluster.namespace_labels(namespace).get(ENFORCE, "")
    violations = enforced_violations({"spec": spec}, level)
    if violations:
        problem, _expected = violations[0]
        return f'violates PodSecurity "{level}:latest": {problem}'
    amounts = pod_amounts(spec, defaults)
    for quota in cluster.of_kind("", "ResourceQuota", namespace):
        hard = (quota.get("spec") or {}).get("hard") or {}
        for hard_key, limit in hard.items():
            key = QUOTA_KEYS.get(hard_key)
            if key is None:
                continue
            if key == "pods":
                if used.get("pods", Fraction(0)) + 1 > int(str(limit)):
                    return (
                        f"exceeded quota: {name_of(quota)}, requested: pods=1, "
                        f"limited: pods={limit}"
                    )
                continue
            if key in amounts.missing:
                return (
                    f"failed quota: {name_of(quota)}: must specify {hard_key} for: "
                    f"{','.join(amounts.missing[key])}"
                )
            if used.get(key, Fraction(0)) + amounts.amounts[key] > parse_quantity(limit):
                requested = format_quantity(amounts.amounts[key], key)
                taken = format_quantity(used.get(key, Fraction(0)), key)
                return (
                    f"exceeded quota: {name_of(quota)}, requested: {hard_key}={requested}, "
                    f"used: {hard_key}={taken}, limited: {hard_key}={limit}"
                )
    for key, value in amounts.amounts.items():
        used[key] = used.get(key, Fraction(0)) + value
    used["pods"] = used.get("pods", Fraction(0)) + 1
    return ""


# --- the kubelet --------------------------------------------------------------------------


def start_problem(spec: dict[str, Any], namespace: str, cluster: Cluster, world: World) -> str:
    """Why the kubelet cannot start every container of the pod ("" when it can)."""
    pull_secrets = [s.get("name") for s in spec.get("imagePullSecrets") or []]
    account = spec.get("serviceAccountName") or "default"
    service_account = cluster.get(Key("", "ServiceAccount", namespace, account)) or {}
    pull_secrets += [s.get("name") for s in service_account.get("imagePullSecrets") or []]
    for container in containers(spec):
        problem = image_problem(container, namespace, pull_secrets, cluster, world)
        if problem:
            return problem
        problem = config_problem(container, namespace, cluster)
        if problem:
            return f"CreateContainerConfigError: container {container.get('name')}: {problem}"
    for volume in spec.get("volumes") or []:
        problem = volume_problem(volume, namespace, cluster)
        if problem:
            return problem
    return ""


def image_problem(
    container: dict[str, Any],
    namespace: str,
    pull_secrets: list[str],
    cluster: Cluster,
    world: World,
) -> str:
    """Why the image of `container` cannot be had ("" when it can). Images outside the
    platform's own packages are pinned public images (the `images` check proves that their
    registries serve them anonymously), so they pull."""
    reference = str(container.get("image", ""))
    images = world.images
    if not images.own_prefix or not reference.startswith(images.own_prefix):
        return ""
    policy = container.get("imagePullPolicy") or (
        "Always" if split_image(reference)[1] in ("", "latest") else "IfNotPresent"
    )
    if reference in images.loaded and policy != "Always":
        return ""
    repository, tag, _digest = split_image(reference)
    name = repository[len(images.own_prefix) :]
    if images.published is None:
        where = "loaded into the nodes" if world.cluster == "kind" else "published"
        return f"ErrImagePull: {reference} is not {where}"
    missing = images.published(name, tag)
    if missing:
        return f"ErrImagePull: {reference}: {missing}"
    if images.private:
        registry = reference.split("/")[0]
        usable = [
            s for s in pull_secrets if s and _has_registry_auth(cluster, namespace, s, reference)
        ]
        if not usable:
            missing = [s for s in pull_secrets if s and secret_data(cluster, namespace, s) is None]
            why = (
                f'imagePullSecrets {", ".join(missing)}: secret "{missing[0]}" not found'
                if missing
                else "the pod has no imagePullSecrets with credentials for " + registry
            )
            return f"ErrImagePull: {reference}: 401 Unauthorized (a private package; {why})"
    return ""


def _has_registry_auth(cluster: Cluster, namespace: str, secret: str, reference: str) -> bool:
    data = secret_data(cluster, namespace, secret) or {}
    return reference.split("/")[0] in data.get(".dockerconfigjson", "")


def config_problem(container: dict[str, Any], namespace: str, cluster: Cluster) -> str:
    for source in container.get("envFrom") or []:
        for field, kind in (("configMapRef", "configmap"), ("secretRef", "secret")):
            ref = source.get(field)
            if ref and not ref.get("optional") and not _exists(cluster, kind, namespace, ref):
                return f'{kind} "{ref.get("name")}" not found'
    for var in container.get("env") or []:
        ref = var.get("valueFrom") or {}
        for field, kind in (("secretKeyRef", "secret"), ("configMapKeyRef", "configmap")):
            selector = ref.get(field)
            if not selector or selector.get("optional"):
                continue
            read = secret_data if kind == "secret" else configmap_data
            data = read(cluster, namespace, selector.get("name"))
            if data is None:
                return f'{kind} "{selector.get("name")}" not found'
            if selector.get("key") not in data:
                where = f"{namespace}/{selector.get('name')}"
                return f"couldn't find key {selector.get('key')} in {kind.title()} {where}"
    return ""


def _exists(cluster: Cluster, kind: str, namespace: str, ref: dict[str, Any]) -> bool:
    read: Callable[..., dict[str, str] | None] = secret_data if kind == "secret" else configmap_data
    return read(cluster, namespace, ref.get("name")) is not None


def volume_problem(volume: dict[str, Any], namespace: str, cluster: Cluster) -> str:
    name = volume.get("name")
    if "secret" in volume:
        source = volume["secret"]
        if (
            not source.get("optional")
            and secret_data(cluster, namespace, source.get("secretName")) is None
        ):
            return _mount_failed(name, "secret", source.get("secretName"))
    if "configMap" in volume:
        source = volume["configMap"]
        if (
            not source.get("optional")
            and configmap_data(cluster, namespace, source.get("name")) is None
        ):
            return _mount_failed(name, "configmap", source.get("name"))
    if "persistentVolumeClaim" in volume:
        claim = volume["persistentVolumeClaim"].get("claimName")
        pvc = cluster.get(Key("", "PersistentVolumeClaim", namespace, str(claim)))
        if pvc is None:
            return f'persistentvolumeclaim "{claim}" not found'
        if ((pvc.get("status") or {}).get("phase")) != "Bound":
            return f'pod has unbound immediate PersistentVolumeClaims ("{claim}")'
    for source in ((volume.get("projected") or {}).get("sources")) or []:
        for field, kind in (("secret", "secret"), ("configMap", "configmap")):
            ref = source.get(field)
            if ref and not ref.get("optional") and not _exists(cluster, kind, namespace, ref):
                return _mount_failed(name, kind, ref.get("name"))
    return ""


def _mount_failed(volume: Any, kind: str, name: Any) -> str:
    return f'MountVolume.SetUp failed for volume "{volume}": {kind} "{name}" not found'
