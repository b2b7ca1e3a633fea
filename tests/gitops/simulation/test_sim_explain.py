"""Where a simulated first sync stops, said as a chain (gitops/simulation/explain.py): an
Application that was never applied names its parent's wave and what the parent's sync failed
or waits on, followed down to the resource to blame and, for a missing Secret, what should
have created it."""

from __future__ import annotations

from typing import Any

from gitops.simulation.engine import Simulation
from gitops.simulation.explain import Stop, stops
from tests.gitops.simulation.support import (
    OWN,
    application,
    boot,
    config_map,
    container,
    in_wave,
    meta,
    pod_spec,
    project,
    simulation,
    tree_app,
    workload,
)

NOT_LOADED = f"{OWN}inference-service:dev"  # an image Kind's nodes do not have
PULL_ERROR = f"pod not started: ErrImagePull: {NOT_LOADED} is not loaded into the nodes"
ROOT_PARENT = "Application argocd/root"


def app_of_apps(server: dict[str, Any]) -> Simulation:
    """root: wave 1 the Application `mlflow` (runs `server`), wave 2 the Application `tenant`."""
    root = application("root", "argocd")
    mlflow = application("mlflow", "mlflow", options=("CreateNamespace=true",))
    tenant = application("tenant", "tenant", options=("CreateNamespace=true",))
    sim = simulation(
        [
            tree_app(root, [project(), in_wave(mlflow, 1), in_wave(tenant, 2)]),
            tree_app(mlflow, [server], parent=ROOT_PARENT),
            tree_app(tenant, [config_map("settings", "tenant")], parent=ROOT_PARENT),
        ]
    )
    return boot(sim, project(), root)


def stop_of(sim: Simulation, name: str) -> Stop:
    found = {s.app: s for s in stops(sim, ["mlflow", "root", "tenant"])}
    return found[name]


def test_a_never_applied_application_names_the_failed_wave_and_the_failing_child() -> None:
    sim = app_of_apps(
        workload("Deployment", "server", "mlflow", pod_spec(container(image=NOT_LOADED)))
    )
    assert str(stop_of(sim, "tenant")) == (
        "tenant never applied: Application argocd/tenant is in root's wave 2; root's sync "
        "failed at wave 1 (one or more synchronization tasks completed unsuccessfully): "
        f"mlflow Synced/Degraded: Deployment mlflow/server: Degraded: {PULL_ERROR}"
    )


def test_a_never_applied_application_names_the_wave_its_parent_waits_at() -> None:
    sim = app_of_apps(
        workload("StatefulSet", "server", "mlflow", pod_spec(container(image=NOT_LOADED)))
    )
    assert str(stop_of(sim, "tenant")) == (
        "tenant never applied: Application argocd/tenant is in root's wave 2; root waits at "
        "wave 1 for mlflow Synced/Progressing: StatefulSet mlflow/server: Progressing: "
        f"{PULL_ERROR}"
    )


def test_nothing_stops_when_every_application_ends_synced_and_healthy() -> None:
    sim = app_of_apps(workload("Deployment", "server", "mlflow", pod_spec(container())))
    assert stops(sim, ["mlflow", "root", "tenant"]) == []


def test_an_application_the_bootstrap_never_applied() -> None:
    root = application("root", "argocd")
    sim = simulation([tree_app(root, [])])
    sim.settle()
    assert stops(sim, ["root"]) == [
        Stop("root", "never applied", "clusters/test was never applied (the bootstrap applies it)")
    ]


# --- a missing Secret, followed to what should have made it -------------------------------------


def reading(secret_name: str) -> dict[str, Any]:
    return workload(
        "StatefulSet",
        "server",
        "mlflow",
        pod_spec(container(envFrom=[{"secretRef": {"name": secret_name}}])),
    )


def test_a_missing_secret_is_followed_to_its_external_secret() -> None:
    external = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": meta("db", "mlflow"),
        "spec": {"target": {"name": "db-credentials"}},
    }
    sim = app_of_apps(reading("db-credentials"))
    sim.cluster.install_crds({("external-secrets.io", "ExternalSecret")})
    assert sim.apply([external]) == []
    assert stop_of(sim, "mlflow").why == (
        "StatefulSet mlflow/server: Progressing: pod not started: CreateContainerConfigError: "
        'container main: secret "db-credentials" not found <- ExternalSecret '
        "mlflow/db: no status yet (no controller)"
    )


def test_a_missing_secret_nothing_creates() -> None:
    sim = app_of_apps(reading("db-credentials"))
    assert stop_of(sim, "mlflow").why.endswith(
        'secret "db-credentials" not found (nothing in the tree or the bootstrap creates it)'
    )
