"""external-secrets v2.9.0, reduced to what decides a first sync
(external-secrets/external-secrets at v2.9.0):

- a ClusterSecretStore of the AWS provider without an `auth` block authenticates as the
  controller's own ServiceAccount (IRSA): it becomes Ready once the controller runs and its
  role exists (pkg/controllers/secretstore: the store's Ready condition);
- an ExternalSecret reads through its store only when the store admits its namespace: a
  ClusterSecretStore with `conditions` admits a namespace when one condition's
  `namespaceSelector` matches the namespace's labels, or its `namespaces` list names it
  (matched through the `kubernetes.io/metadata.name` label), or a `namespaceRegexes` entry
  matches (pkg/controllers/secretstore/client_manager.go, shouldProcessSecret); otherwise the
  client manager refuses with "using cluster store %q is not allowed from namespace %q:
  denied by spec.condition" (errClusterStoreMismatch) and the ExternalSecret turns Ready=False,
  reason SecretSyncedError (pkg/controllers/externalsecret/externalsecret_controller.go);
- every remote key it reads (`data[].remoteRef.key`, `dataFrom[].extract.key`) must exist in
  Secrets Manager, and a `property` must exist in the JSON; otherwise Ready=False;
- then it writes its target Secret (creationPolicy Owner) with the keys of `data`, the JSON
  keys of `dataFrom.extract`, or its `template.data` (rendered with those values), and turns
  Ready=True, reason SecretSynced, "secret synced".
Argo CD judges both with its own Lua checks (resource_customizations/external-secrets.io/).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from gitops.simulation.cluster import Cluster, Refused
from gitops.simulation.keys import Key, key_of
from gitops.simulation.world import World
from gitops.tree.findings import name_of
from gitops.tree.selectors import matches

CONTROLLER = "external-secrets"  # the capability the chart's controller provides


def reconcile(cluster: Cluster, world: World, capabilities: set[str]) -> None:
    if CONTROLLER not in capabilities:
        return  # no controller: nothing writes a status, Argo CD shows them Progressing
    for store in cluster.of_kind("external-secrets.io", "ClusterSecretStore"):
        store["status"] = _ready(*_store_ready(store, world))
    for store in cluster.of_kind("external-secrets.io", "SecretStore"):
        store["status"] = _ready(*_store_ready(store, world))
    for secret in list(cluster.of_kind("external-secrets.io", "ExternalSecret")):
        ok, message = _sync(cluster, world, secret)
        secret["status"] = _ready(ok, message, "SecretSynced" if ok else "SecretSyncedError")


def _ready(ok: bool, message: str, reason: str = "") -> dict[str, Any]:
    reason = reason or ("Valid" if ok else "InvalidProviderConfig")
    return {
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ok else "False",
                "reason": reason,
                "message": message,
            }
        ]
    }


def _store_ready(store: dict[str, Any], world: World) -> tuple[bool, str]:
    provider = (store.get("spec") or {}).get("provider") or {}
    aws = provider.get("aws")
    if aws is None:
        return False, "only the AWS provider is modelled"
    if not aws.get("auth") and "external-secrets/external-secrets" not in world.cloud.roles:
        return False, (
            "unable to validate store: the controller's ServiceAccount has no IAM role "
            "(IRSA) to call Secrets Manager with"
        )
    return True, "store validated"


def admits(store: dict[str, Any], namespace: str, cluster: Cluster) -> bool:
    conditions = (store.get("spec") or {}).get("conditions") or []
    if not conditions:
        return True
    labels = cluster.namespace_labels(namespace)
    for condition in conditions:
        if condition.get("namespaceSelector") is not None and matches(
            condition["namespaceSelector"], labels
        ):
            return True
        if namespace in (condition.get("namespaces") or []):
            return True
        if any(re.search(r, namespace) for r in condition.get("namespaceRegexes") or []):
            return True
    return False


def _sync(cluster: Cluster, world: World, secret: dict[str, Any]) -> tuple[bool, str]:
    key = key_of(secret)
    spec = secret.get("spec") or {}
    ref = spec.get("secretStoreRef") or {}
    kind = ref.get("kind", "SecretStore")
    store_key = Key(
        "external-secrets.io",
        kind,
        "" if kind == "ClusterSecretStore" else key.namespace,
        str(ref.get("name")),
    )
    store = cluster.get(store_key)
    if store is None:
        return False, f"could not get provider client: {kind} {ref.get('name')!r} not found"
    ready = ((store.get("status") or {}).get("conditions") or [{}])[0]
    if ready.get("status") != "True":
        return (
            False,
            f"could not get provider client: {kind} {ref.get('name')!r} is not ready: "
            f"{ready.get('message')}",
        )
    if kind == "ClusterSecretStore" and not admits(store, key.namespace, cluster):
        return False, (
            f"could not get secret data from provider: using cluster store "
            f'"{ref.get("name")}" is not allowed from namespace "{key.namespace}": '
            f"denied by spec.condition"
        )
    values: dict[str, str] = {}
    for item in spec.get("data") or []:
        remote = item.get("remoteRef") or {}
        value, problem = _read(world, str(remote.get("key")), remote.get("property"))
        if problem:
            return False, f"could not get secret data from provider: {problem}"
        values[str(item.get("secretKey"))] = value
    for item in spec.get("dataFrom") or []:
        extract = item.get("extract") or {}
        if not extract:
            continue
        remote_key = str(extract.get("key"))
        stored = world.cloud.secrets.get(remote_key)
        if stored is None:
            return (
                False,
                f"could not get secret data from provider: Secret does not exist: {remote_key}",
            )
        if not isinstance(stored, dict):
            return (
                False,
                f"could not get secret data from provider: {remote_key} is not a JSON object",
            )
        values |= {k: str(v) for k, v in stored.items()}
    target = spec.get("target") or {}
    template = target.get("template") or {}
    data = dict(values)
    if template.get("data"):
        data = {k: _render(str(v), values) for k, v in template["data"].items()}
    out = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": template.get("type", "Opaque"),
        "metadata": {"name": target.get("name") or name_of(secret), "namespace": key.namespace},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
    try:
        cluster.create_or_update(out)
    except Refused as refused:
        return False, f"could not create the target Secret: {refused}"
    return True, "secret synced"


def _read(world: World, remote_key: str, prop: str | None) -> tuple[str, str]:
    stored = world.cloud.secrets.get(remote_key)
    if stored is None:
        return "", f"Secret does not exist: {remote_key}"
    if prop is None:
        return (json.dumps(stored) if isinstance(stored, dict) else stored), ""
    if not isinstance(stored, dict) or prop not in stored:
        return "", f"key {remote_key} has no property {prop}"
    return str(stored[prop]), ""


def _render(text: str, values: dict[str, str]) -> str:
    """The few template forms this tree uses: {{ .key }} and printf ... | b64enc."""

    def one(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        if expr.startswith("."):
            return values.get(expr[1:], "")
        printf = re.fullmatch(r'printf\s+"([^"]*)"\s+((?:\.\w+\s*)+)\|\s*b64enc', expr)
        if printf:
            args = [values.get(a[1:], "") for a in printf.group(2).split()]
            return base64.b64encode((printf.group(1) % tuple(args)).encode()).decode()
        return ""

    return re.sub(r"\{\{(.*?)\}\}", one, text)
