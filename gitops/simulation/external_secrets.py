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
  reason SecretSyncedError, message "could not get secret data from provider", the detail in
  a Warning event (pkg/controllers/externalsecret/externalsecret_controller.go, markAsFailed);
- then a store that is not Ready refuses every read (the flood gate, on by default:
  `ClusterSecretStore "<name>" is not ready`);
- every remote key it reads (`data[].remoteRef.key`, `dataFrom[].extract.key`) must exist in
  Secrets Manager ("Secret does not exist", providers/v1/aws/secretsmanager), and a
  `property` must exist in the JSON; otherwise Ready=False, as above;
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


# The Ready condition's message on any failure to read the provider; the detail goes to the
# Warning event UpdateFailed (pkg/controllers/externalsecret/externalsecret_controller.go,
# markAsFailed with msgErrorGetSecretData).
FAILED_MESSAGE = "could not get secret data from provider"


def reconcile(
    cluster: Cluster, world: World, capabilities: set[str], events: dict[Key, str]
) -> None:
    """Stores and ExternalSecrets get the status the controller writes; `events` keeps, per
    ExternalSecret, the text of its last Warning event (what `kubectl describe` shows)."""
    if CONTROLLER not in capabilities:
        return  # no controller: nothing writes a status, Argo CD shows them Progressing
    for store in cluster.of_kind("external-secrets.io", "ClusterSecretStore"):
        store["status"] = _ready(*_store_ready(store, world))
    for store in cluster.of_kind("external-secrets.io", "SecretStore"):
        store["status"] = _ready(*_store_ready(store, world))
    for secret in list(cluster.of_kind("external-secrets.io", "ExternalSecret")):
        ok, detail = _sync(cluster, world, secret)
        if ok:
            secret["status"] = _ready(True, "secret synced", "SecretSynced")
            events.pop(key_of(secret), None)
        else:
            secret["status"] = _ready(False, FAILED_MESSAGE, "SecretSyncedError")
            events[key_of(secret)] = detail


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
    # No auth block: the controller's own credentials (IRSA), which validation retrieves.
    if not aws.get("auth") and "external-secrets/external-secrets" not in world.cloud.roles:
        return False, "unable to validate store"
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
    # The namespace conditions are checked before the flood gate (client_manager.go, Get).
    if kind == "ClusterSecretStore" and not admits(store, key.namespace, cluster):
        return False, (
            f"using cluster store "
            f'"{ref.get("name")}" is not allowed from namespace "{key.namespace}": '
            f"denied by spec.condition"
        )
    ready = ((store.get("status") or {}).get("conditions") or [{}])[0]
    if ready.get("status") != "True":
        return False, f'{kind} "{ref.get("name")}" is not ready'
    values: dict[str, str] = {}
    for item in spec.get("data") or []:
        remote = item.get("remoteRef") or {}
        value, problem = _read(world, str(remote.get("key")), remote.get("property"))
        if problem:
            return False, f"error processing spec.data (key: {remote.get('key')}), err: {problem}"
        values[str(item.get("secretKey"))] = value
    for item in spec.get("dataFrom") or []:
        extract = item.get("extract") or {}
        if not extract:
            continue
        remote_key = str(extract.get("key"))
        stored = world.cloud.secrets.get(remote_key)
        if stored is None:
            return False, (
                f"error processing spec.dataFrom.extract (key: {remote_key}), err: Secret does "
                "not exist"
            )
        if not isinstance(stored, dict):
            return False, f"error processing spec.dataFrom.extract (key: {remote_key}): not JSON"
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
        return "", "Secret does not exist"
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
