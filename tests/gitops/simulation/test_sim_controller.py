"""Argo CD's controllers in the simulation (gitops/simulation/argocd/controller.py), as
argo-cd v3.5.1 runs them: automated sync (controller/appcontroller.go autoSync), retries and
alreadyAttemptedSync, a person's sync request and its prune flag, the project check
(InvalidSpecError), the ApplicationSet controller and the Application's health
(controller/health.go). Small trees made by hand, run to rest by the engine."""

from __future__ import annotations

from typing import Any

import pytest

from gitops.simulation.argocd.controller import ArgoCD
from gitops.simulation.argocd.sync import Operation
from gitops.simulation.cluster import Cluster
from gitops.simulation.engine import Simulation
from gitops.simulation.keys import Key
from tests.gitops.simulation.support import (
    OWN,
    application,
    application_set,
    boot,
    config_map,
    container,
    crds,
    in_wave,
    namespace,
    pod_spec,
    project,
    simulation,
    tree_app,
    workload,
)

NS = "team"


def one_app(objects: list[dict[str, Any]], **policy: Any) -> tuple[Simulation, dict[str, Any]]:
    """A cluster with the namespace `team` and one Application `web` deploying `objects`,
    applied by hand with its project."""
    app = application("web", NS, **policy)
    sim = simulation([tree_app(app, objects)])
    sim.create_namespace(NS)
    return sim, app


def starts(sim: Simulation) -> list[Operation]:
    """Record every operation Argo CD starts from now on."""
    assert sim.argocd is not None
    started: list[Operation] = []
    start = sim.argocd.runner.start

    def counting(*args: Any) -> Operation:
        started.append(start(*args))
        return started[-1]

    sim.argocd.runner.start = counting  # type: ignore[method-assign]
    return started


def conditions(sim: Simulation, name: str) -> list[dict[str, Any]]:
    assert sim.argocd is not None
    app = sim.argocd.application(name) or {}
    return list((app.get("status") or {}).get("conditions") or [])


def has(sim: Simulation, kind: str, namespace: str, name: str) -> bool:
    return Key("", kind, namespace, name) in sim.cluster.objects


# --- automated and manual sync ----------------------------------------------------------------


def test_an_automated_application_syncs_when_out_of_sync() -> None:
    sim, app = one_app([config_map("settings", NS)])
    boot(sim, project(), app)
    view = sim.application("web")
    assert view is not None
    assert (view.sync, view.health, view.operation) == ("Synced", "Healthy", "Succeeded")
    assert has(sim, "ConfigMap", NS, "settings")


def test_without_automated_nothing_syncs_until_a_person_asks() -> None:
    sim, app = one_app([config_map("settings", NS)], automated=False)
    boot(sim, project(), app)
    view = sim.application("web")
    assert view is not None
    assert (view.sync, view.operation) == ("OutOfSync", "")
    assert not has(sim, "ConfigMap", NS, "settings")

    assert sim.request_sync("web", prune=False) == ""
    sim.settle()
    view = sim.application("web")
    assert view is not None
    assert (view.sync, view.operation) == ("Synced", "Succeeded")


def test_a_sync_request_for_an_unknown_application_is_refused() -> None:
    sim, app = one_app([])
    boot(sim, project(), app)
    assert sim.request_sync("nope", prune=False) == 'application "nope" not found'


# --- retries ------------------------------------------------------------------------------------


def failing_app(**policy: Any) -> tuple[Simulation, list[Operation]]:
    """`web` deploys into a namespace nobody creates: every apply is refused."""
    app = application("web", "missing", **policy)
    sim = simulation([tree_app(app, [config_map("settings", "missing")])])
    started = starts(sim)
    boot(sim, project(), app)
    return sim, started


@pytest.mark.parametrize(
    ("policy", "attempts"),
    [
        pytest.param({"retry_limit": 2}, 3, id="retry.limit 2"),
        pytest.param({"retry_limit": 0}, 1, id="retry.limit 0"),
        pytest.param({}, 6, id="no retry block: automated sync's default of 5"),
    ],
)
def test_a_failed_automated_sync_is_retried_up_to_the_limit(
    policy: dict[str, Any], attempts: int
) -> None:
    sim, started = failing_app(**policy)
    assert len(started) == attempts
    view = sim.application("web")
    assert view is not None
    assert (view.sync, view.operation) == ("OutOfSync", "Failed")
    assert view.operation_message == (
        'one or more objects failed to apply: ConfigMap missing/settings: namespaces "missing" '
        "not found"
    )
    assert conditions(sim, "web") == [
        {
            "type": "SyncError",
            "message": f"Failed last sync attempt to main: {view.operation_message}",
        }
    ]
    sim.settle()
    assert len(started) == attempts  # and never again for this revision


def test_a_manual_sync_without_a_retry_block_is_not_retried() -> None:
    sim, started = failing_app(automated=False)
    assert started == []
    sim.request_sync("web", prune=False)
    sim.settle()
    assert len(started) == 1


def test_a_failed_revision_is_not_synced_again_but_a_new_revision_is() -> None:
    sim, started = failing_app(retry_limit=0)
    sim.create_namespace("missing")  # the cause is gone, the revision is the same
    sim.settle()
    view = sim.application("web")
    assert view is not None
    assert (len(started), view.operation) == (1, "Failed")

    assert sim.argocd is not None
    sim.argocd.revision = "main+1"
    sim.settle()
    view = sim.application("web")
    assert view is not None
    assert (len(started), view.sync, view.operation) == (2, "Synced", "Succeeded")
    assert conditions(sim, "web") == []


# --- prune --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("prune", "left"), [(False, True), (True, False)])
def test_a_manual_sync_honours_its_prune_flag(prune: bool, left: bool) -> None:
    old, kept = config_map("old", NS), config_map("kept", NS)
    sim, app = one_app([old, kept], automated=False)
    boot(sim, project(), app)
    sim.request_sync("web", prune=False)
    sim.settle()
    assert has(sim, "ConfigMap", NS, "old")

    sim.replace_app(tree_app(app, [kept]))  # a later commit drops `old`
    assert sim.argocd is not None
    sim.argocd.revision = "main+1"
    sim.request_sync("web", prune=prune)
    sim.settle()
    view = sim.application("web")
    assert view is not None
    assert view.operation == "Succeeded"
    assert has(sim, "ConfigMap", NS, "old") is left
    assert view.sync == ("OutOfSync" if left else "Synced")
    state = (sim.argocd.application("web") or {})["status"]["operationState"]
    assert state["operation"]["sync"]["prune"] is prune


def test_automated_prune_follows_the_sync_policy() -> None:
    old, kept = config_map("old", NS), config_map("kept", NS)
    sim, app = one_app([old, kept], prune=True)
    boot(sim, project(), app)
    sim.replace_app(tree_app(app, [kept]))
    assert sim.argocd is not None
    sim.argocd.revision = "main+1"
    sim.settle()
    assert not has(sim, "ConfigMap", NS, "old")


# --- the project --------------------------------------------------------------------------------


def test_an_application_whose_project_does_not_exist_gets_invalid_spec_error() -> None:
    sim, app = one_app([config_map("settings", NS)])
    boot(sim, app)
    view = sim.application("web")
    assert view is not None
    assert (view.sync, view.operation) == ("Unknown", "")
    assert conditions(sim, "web") == [
        {
            "type": "InvalidSpecError",
            "message": "Application referencing project team which does not exist",
        }
    ]
    assert not has(sim, "ConfigMap", NS, "settings")

    boot(sim, project())  # the project arrives: the Application syncs
    view = sim.application("web")
    assert view is not None
    assert (view.sync, view.operation) == ("Synced", "Succeeded")


# --- ApplicationSet -----------------------------------------------------------------------------


def test_an_application_set_creates_its_applications_and_reports_resources_up_to_date() -> None:
    tenants = application_set("tenants")
    root = application("root", "argocd")
    child = application("tenant-a", NS, options=("CreateNamespace=true",))
    sim = simulation(
        [
            tree_app(root, [tenants]),
            tree_app(
                child,
                [config_map("settings", NS)],
                parent="Application argocd/root",
                generated_by="ApplicationSet argocd/tenants",
            ),
        ]
    )
    boot(sim, project(), root)
    view = sim.application("tenant-a")
    assert view is not None
    assert (view.sync, view.health) == ("Synced", "Healthy")
    live = sim.cluster.get(Key("argoproj.io", "ApplicationSet", "argocd", "tenants")) or {}
    assert {c["type"]: c["status"] for c in live["status"]["conditions"]} == {
        "ErrorOccurred": "False",
        "ResourcesUpToDate": "True",
    }
    root_view = sim.application("root")
    assert root_view is not None
    assert (root_view.sync, root_view.health) == ("Synced", "Healthy")


def test_an_application_set_that_cannot_generate_reports_the_error() -> None:
    cluster = Cluster(crds())
    cluster.install_crds({("argoproj.io", "ApplicationSet"), ("argoproj.io", "Application")})
    cluster.create_or_update(namespace("argocd"))
    cluster.create_or_update(application_set("tenants"))
    argocd = ArgoCD(cluster, lambda _app: [], lambda _set: "no tenants folder", lambda _obj: None)
    argocd.reconcile()
    live = cluster.get(Key("argoproj.io", "ApplicationSet", "argocd", "tenants")) or {}
    assert live["status"]["conditions"] == [
        {
            "type": "ErrorOccurred",
            "status": "True",
            "reason": "ApplicationGenerationFromParamsError",
            "message": "no tenants folder",
        }
    ]
    assert list(cluster.of_kind("argoproj.io", "Application")) == []


# --- the Application's health -------------------------------------------------------------------

NOT_LOADED = f"{OWN}inference-service:dev"  # a platform image Kind's nodes do not have


def test_app_health_ignores_resources_not_created_yet() -> None:
    """Wave 0 never gets ready, so wave 1 is never applied: Progressing, not Missing."""
    waiting = in_wave(workload("StatefulSet", "db", NS, pod_spec(container(image=NOT_LOADED))), 0)
    later = in_wave(config_map("later", NS), 1)
    sim, app = one_app([waiting, later])
    boot(sim, project(), app)
    view = sim.application("web")
    assert view is not None
    assert (view.sync, view.health, view.operation) == ("OutOfSync", "Progressing", "Running")
    assert view.message.startswith("StatefulSet team/db: ")


def test_app_health_is_missing_when_nothing_exists() -> None:
    app = application("web", "missing")
    sim = simulation([tree_app(app, [config_map("a", "missing"), config_map("b", "missing")])])
    boot(sim, project(), app)
    view = sim.application("web")
    assert view is not None
    assert view.health == "Missing"


def test_app_health_is_the_worst_resources() -> None:
    """A Deployment past its deadline is Degraded, a DaemonSet waits (Progressing) for ever;
    one wave, so the operation succeeds and the Application shows the worst, named in its
    message although the DaemonSet comes first."""
    stuck = workload("Deployment", "api", NS, pod_spec(container(image=NOT_LOADED)))
    waiting = workload("DaemonSet", "node-exporter", NS, pod_spec(container(image=NOT_LOADED)))
    sim, app = one_app([waiting, stuck, config_map("settings", NS)])
    boot(sim, project(), app)
    view = sim.application("web")
    assert view is not None
    assert (view.sync, view.health, view.operation) == ("Synced", "Degraded", "Succeeded")
    assert view.message == 'Deployment team/api: Deployment "api" exceeded its progress deadline'
