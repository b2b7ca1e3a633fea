"""external-secrets in the simulation (gitops/simulation/external_secrets.py), as v2.9.0 decides
it: a store's Ready condition, a ClusterSecretStore's namespace conditions
(pkg/controllers/secretstore/client_manager.go shouldProcessSecret, errClusterStoreMismatch),
the flood gate (errSecretStoreNotReady), remote keys and properties, the target Secret and its
template, and the Ready message with the detail in a Warning event
(pkg/controllers/externalsecret/externalsecret_controller.go, msgErrorGetSecretData)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from gitops.simulation import external_secrets
from gitops.simulation.engine import Simulation
from gitops.simulation.keys import Key, key_of
from gitops.simulation.pods import secret_data
from tests.gitops.simulation.support import kind_world, meta, simulation

NS = "team"
CONTROLLER_ROLE = "external-secrets/external-secrets"
DENIED = 'using cluster store "aws" is not allowed from namespace "team": denied by spec.condition'
FAILED = "could not get secret data from provider"


def cluster(
    labels: dict[str, str] | None = None,
    cloud_secrets: dict[str, dict[str, str] | str] | None = None,
    role: bool = True,
) -> Simulation:
    world = kind_world()
    if cloud_secrets is None:
        cloud_secrets = {"ml-platform/db": {"password": "s3cret"}}
    world.cloud.secrets = dict(cloud_secrets)
    if role:
        world.cloud.roles[CONTROLLER_ROLE] = "external-secrets"
    sim = simulation([], world)
    sim.create_namespace(NS, labels)
    sim.cluster.install_crds(
        {
            ("external-secrets.io", k)
            for k in ("ClusterSecretStore", "SecretStore", "ExternalSecret")
        }
    )
    return sim


def store(conditions: list[dict[str, Any]] | None = None, **aws: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"provider": {"aws": {"service": "SecretsManager", **aws}}}
    if conditions is not None:
        spec["conditions"] = conditions
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": meta("aws"),
        "spec": spec,
    }


def external_secret(
    data: list[dict[str, Any]] | None = None,
    data_from: list[dict[str, Any]] | None = None,
    template: dict[str, Any] | None = None,
) -> dict[str, Any]:
    target: dict[str, Any] = {"name": "db-credentials"}
    if template is not None:
        target["template"] = template
    spec: dict[str, Any] = {
        "secretStoreRef": {"kind": "ClusterSecretStore", "name": "aws"},
        "target": target,
    }
    if data is None and data_from is None:
        data = [
            {
                "secretKey": "password",
                "remoteRef": {"key": "ml-platform/db", "property": "password"},
            }
        ]
    if data is not None:
        spec["data"] = data
    if data_from is not None:
        spec["dataFrom"] = data_from
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": meta("db", NS),
        "spec": spec,
    }


def run(sim: Simulation, *objects: dict[str, Any], controller: bool = True) -> None:
    assert sim.apply(list(objects)) == []
    capabilities = {external_secrets.CONTROLLER} if controller else set()
    for _ in range(2):  # the store's status first, then the ExternalSecret reads through it
        external_secrets.reconcile(sim.cluster, sim.world, capabilities, sim.secret_events)


def ready(sim: Simulation, obj: dict[str, Any]) -> dict[str, Any]:
    live = sim.cluster.get(key_of(obj)) or {}
    return dict(((live.get("status") or {}).get("conditions") or [{}])[0])


def event(sim: Simulation, obj: dict[str, Any]) -> str | None:
    return sim.secret_events.get(key_of(obj))


def target(sim: Simulation) -> dict[str, str] | None:
    return secret_data(sim.cluster, NS, "db-credentials")


def assert_synced(sim: Simulation, obj: dict[str, Any]) -> None:
    assert ready(sim, obj) == {
        "type": "Ready",
        "status": "True",
        "reason": "SecretSynced",
        "message": "secret synced",
    }
    assert event(sim, obj) is None


def assert_failed(sim: Simulation, obj: dict[str, Any], detail: str) -> None:
    assert ready(sim, obj) == {
        "type": "Ready",
        "status": "False",
        "reason": "SecretSyncedError",
        "message": FAILED,
    }
    assert event(sim, obj) == detail
    assert target(sim) is None


# --- the store --------------------------------------------------------------------------------


def test_nothing_gets_a_status_without_the_controller() -> None:
    sim = cluster()
    secret = external_secret()
    run(sim, store(), secret, controller=False)
    assert ready(sim, store()) == {}
    assert ready(sim, secret) == {}
    health = sim.health(sim.cluster.get(key_of(secret)) or {})
    assert health is not None
    assert health.status == "Progressing"


@pytest.mark.parametrize(
    ("role", "auth", "status", "message"),
    [
        (True, None, "True", "store validated"),
        (False, None, "False", "unable to validate store"),
        (False, {"secretRef": {}}, "True", "store validated"),
    ],
    ids=["controller's IRSA role", "no role", "own auth block"],
)
def test_a_store_is_ready_once_it_can_authenticate(
    role: bool, auth: dict[str, Any] | None, status: str, message: str
) -> None:
    sim = cluster(role=role)
    aws_store = store(**({"auth": auth} if auth else {}))
    run(sim, aws_store)
    assert (ready(sim, aws_store)["status"], ready(sim, aws_store)["message"]) == (status, message)
    health = sim.health(sim.cluster.get(key_of(aws_store)) or {})
    assert health is not None
    assert health.status == ("Healthy" if status == "True" else "Degraded")


def test_a_store_of_another_provider_is_not_ready() -> None:
    sim = cluster()
    vault = store()
    vault["spec"]["provider"] = {"vault": {}}
    run(sim, vault)
    assert ready(sim, vault)["status"] == "False"


# --- namespace conditions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "admitted"),
    [
        pytest.param(None, True, id="no conditions"),
        pytest.param(
            [{"namespaceSelector": {"matchLabels": {"tier": "tenant"}}}],
            True,
            id="selector matches",
        ),
        pytest.param(
            [{"namespaceSelector": {"matchLabels": {"tier": "platform"}}}],
            False,
            id="selector does not match",
        ),
        pytest.param([{"namespaceSelector": {}}], True, id="empty selector matches all"),
        pytest.param([{"namespaces": ["team"]}], True, id="listed"),
        pytest.param([{"namespaces": ["other"]}], False, id="not listed"),
        pytest.param([{"namespaceRegexes": ["^te"]}], True, id="regex matches"),
        pytest.param([{"namespaceRegexes": ["^other$"]}], False, id="regex does not match"),
        pytest.param(
            [{"namespaces": ["other"]}, {"namespaceRegexes": ["am$"]}], True, id="any condition"
        ),
        pytest.param(
            [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "team"}}}],
            True,
            id="the label the API server sets",
        ),
    ],
)
def test_a_cluster_store_admits_a_namespace_by_its_conditions(
    conditions: list[dict[str, Any]] | None, admitted: bool
) -> None:
    sim = cluster(labels={"tier": "tenant"})
    secret = external_secret()
    run(sim, store(conditions), secret)
    if admitted:
        assert_synced(sim, secret)
    else:
        assert_failed(sim, secret, DENIED)


def test_the_namespace_conditions_are_checked_before_the_flood_gate() -> None:
    sim = cluster(role=False)
    secret = external_secret()
    run(sim, store([{"namespaces": ["other"]}]), secret)
    assert_failed(sim, secret, DENIED)


def test_a_store_that_is_not_ready_refuses_every_read() -> None:
    sim = cluster(role=False)
    secret = external_secret()
    run(sim, store(), secret)
    assert_failed(sim, secret, 'ClusterSecretStore "aws" is not ready')


def test_a_missing_store() -> None:
    sim = cluster()
    secret = external_secret()
    run(sim, secret)
    assert_failed(sim, secret, "could not get provider client: ClusterSecretStore 'aws' not found")


# --- what it reads ----------------------------------------------------------------------------


def test_a_missing_remote_key() -> None:
    sim = cluster(cloud_secrets={"ml-platform/other": "x"})
    secret = external_secret()
    run(sim, store(), secret)
    assert_failed(
        sim,
        secret,
        "error processing spec.data (key: ml-platform/db), err: Secret does not exist",
    )


def test_a_missing_property() -> None:
    sim = cluster(cloud_secrets={"ml-platform/db": {"username": "app"}})
    secret = external_secret()
    run(sim, store(), secret)
    assert_failed(
        sim,
        secret,
        "error processing spec.data (key: ml-platform/db), err: key ml-platform/db has no "
        "property password",
    )


def test_data_writes_the_target_secret() -> None:
    sim = cluster()
    secret = external_secret()
    run(sim, store(), secret)
    assert_synced(sim, secret)
    assert target(sim) == {"password": "s3cret"}


def test_a_plain_string_without_property() -> None:
    sim = cluster(cloud_secrets={"ml-platform/token": "abc"})
    secret = external_secret(
        data=[{"secretKey": "token", "remoteRef": {"key": "ml-platform/token"}}]
    )
    run(sim, store(), secret)
    assert target(sim) == {"token": "abc"}


def test_data_from_extract_copies_every_json_key() -> None:
    sim = cluster(cloud_secrets={"ml-platform/db": {"username": "app", "password": "p"}})
    secret = external_secret(data_from=[{"extract": {"key": "ml-platform/db"}}])
    run(sim, store(), secret)
    assert target(sim) == {"username": "app", "password": "p"}

    missing = cluster(cloud_secrets={})
    run(missing, store(), secret)
    assert_failed(
        missing,
        secret,
        "error processing spec.dataFrom.extract (key: ml-platform/db), err: Secret does not exist",
    )


def test_a_template_renders_the_target_secret() -> None:
    sim = cluster(cloud_secrets={"ml-platform/db": {"username": "app", "password": "p"}})
    template = {
        "type": "kubernetes.io/dockerconfigjson",
        "data": {
            "url": "postgresql://{{ .username }}:{{ .password }}@db:5432/mlflow",
            "auth": '{{ printf "%s:%s" .username .password | b64enc }}',
        },
    }
    secret = external_secret(data_from=[{"extract": {"key": "ml-platform/db"}}], template=template)
    run(sim, store(), secret)
    assert_synced(sim, secret)
    assert target(sim) == {
        "url": "postgresql://app:p@db:5432/mlflow",
        "auth": base64.b64encode(b"app:p").decode(),
    }
    live = sim.cluster.get(Key("", "Secret", NS, "db-credentials")) or {}
    assert live["type"] == "kubernetes.io/dockerconfigjson"


def test_the_warning_event_goes_once_the_secret_syncs() -> None:
    sim = cluster(cloud_secrets={})
    secret = external_secret()
    run(sim, store(), secret)
    assert event(sim, secret) is not None
    sim.world.cloud.secrets["ml-platform/db"] = {"password": "p"}
    run(sim)
    assert_synced(sim, secret)


def test_argo_cd_judges_a_failed_external_secret_degraded_by_its_ready_message() -> None:
    sim = cluster(cloud_secrets={})
    secret = external_secret()
    run(sim, store(), secret)
    health = sim.health(sim.cluster.get(key_of(secret)) or {})
    assert health is not None
    assert (health.status, health.message) == ("Degraded", FAILED)
