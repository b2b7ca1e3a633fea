"""One sync operation (gitops/simulation/argocd/sync.py), rule by rule, as argo-cd v3.5.1 runs
it (gitops-engine/pkg/sync/sync_context.go `Sync`, `getSyncTasks`, `runTasks`). Each rule is
shown firing and, beside it, the case where it does not. The objects say their own health
(`status.health`), so each test decides when a resource turns Healthy or Degraded."""

from __future__ import annotations

from typing import Any

import pytest

from gitops.simulation.argocd.controller import IN_CLUSTER
from gitops.simulation.argocd.sync import Operation, SyncRequest, SyncRunner
from gitops.simulation.cluster import Cluster
from gitops.simulation.health import Health, HealthStatus
from gitops.simulation.keys import Key, key_of
from tests.gitops.simulation.support import (
    as_hook,
    config_map,
    crd,
    crds,
    in_wave,
    namespace,
    project,
    secret,
    service_monitor,
    with_sync_option,
    workload,
)

APP = "web"
NAMESPACE = "team"


def said_health(obj: dict[str, Any]) -> Health | None:
    """The health an object says it has (none, like a ConfigMap, when it says nothing)."""
    said = (obj.get("status") or {}).get("health")
    return None if said is None else Health(HealthStatus(said), f"it says {said}")


def saying(obj: dict[str, Any], health: str) -> dict[str, Any]:
    obj["status"] = {"health": health}
    return obj


def turn(cluster: Cluster, obj: dict[str, Any], health: str) -> None:
    """A controller changes the live object's status."""
    cluster.objects[key_of(obj)]["status"] = {"health": health}


class Sync:
    """A cluster with the namespace `team`, and one Application's operations on it."""

    def __init__(self, *namespaces: str) -> None:
        self.cluster = Cluster(crds())
        for name in (NAMESPACE, *namespaces):
            self.cluster.create_or_update(namespace(name))
        self.owner: dict[Key, str] = {}
        self.runner = SyncRunner(self.cluster, said_health, self.owner, {})

    def start(
        self,
        desired: list[dict[str, Any]],
        *,
        app_project: dict[str, Any] | None = None,
        destination: str = NAMESPACE,
        prune: bool = False,
        options: tuple[str, ...] = (),
        namespace_metadata: dict[str, Any] | None = None,
    ) -> Operation:
        request = SyncRequest(
            app=APP,
            project=app_project or project(),
            server=IN_CLUSTER,
            namespace=destination,
            desired=desired,
            owned=[self.cluster.objects[k] for k, a in self.owner.items() if a == APP],
            prune=prune,
            options=list(options),
            managed_namespace_metadata=namespace_metadata,
        )
        return self.runner.start(request, "main")

    def run(self, operation: Operation) -> Operation:
        """Step until the operation stops changing (done, or waiting)."""
        for _ in range(20):
            if not self.runner.step(operation):
                break
        return operation

    def has(self, obj: dict[str, Any]) -> bool:
        return key_of(obj) in self.cluster.objects


def task_of(operation: Operation, obj: dict[str, Any]) -> Any:
    return next(t for t in operation.tasks if t.key == key_of(obj))


# --- waves are barriers ---------------------------------------------------------------------


def test_a_wave_waits_while_the_previous_wave_is_progressing() -> None:
    sync = Sync()
    first = in_wave(saying(config_map("first", NAMESPACE), "Progressing"), 0)
    second = in_wave(config_map("second", NAMESPACE), 1)
    operation = sync.run(sync.start([second, first]))
    assert (operation.phase, operation.message) == (
        "Running",
        "waiting for healthy state of /ConfigMap/first",
    )
    assert sync.has(first)
    assert not sync.has(second)

    turn(sync.cluster, first, "Healthy")
    sync.run(operation)
    assert sync.has(second)
    assert (operation.phase, operation.message) == (
        "Succeeded",
        "successfully synced (all tasks run)",
    )


def test_a_degraded_resource_fails_the_operation_and_later_waves_are_never_applied() -> None:
    sync = Sync()
    first = in_wave(saying(config_map("first", NAMESPACE), "Progressing"), 0)
    second = in_wave(config_map("second", NAMESPACE), 1)
    operation = sync.run(sync.start([first, second]))
    turn(sync.cluster, first, "Degraded")
    sync.run(operation)
    assert operation.phase == "Failed"
    assert operation.message == (
        "one or more synchronization tasks completed unsuccessfully: "
        "ConfigMap team/first: it says Degraded"
    )
    assert not sync.has(second)
    assert sync.run(operation).phase == "Failed"  # a failed operation stays failed
    assert not sync.has(second)


def test_the_last_wave_succeeds_although_its_objects_are_not_healthy() -> None:
    sync = Sync()
    first = in_wave(config_map("first", NAMESPACE), 0)
    last = in_wave(saying(config_map("last", NAMESPACE), "Progressing"), 1)
    operation = sync.run(sync.start([first, last]))
    assert (operation.phase, operation.message) == (
        "Succeeded",
        "successfully synced (all tasks run)",
    )
    assert task_of(operation, last).state == "Running"  # applied, never judged


@pytest.mark.parametrize("health", ["Progressing", "Degraded"])
def test_a_single_wave_app_succeeds_at_once(health: str) -> None:
    sync = Sync()
    only = saying(config_map("only", NAMESPACE), health)
    operation = sync.start([only, config_map("other", NAMESPACE)])
    assert sync.runner.step(operation)
    assert (operation.phase, operation.message) == (
        "Succeeded",
        "successfully synced (all tasks run)",
    )


# --- validation -----------------------------------------------------------------------------


def test_a_custom_resource_without_its_crd_fails_validation_and_nothing_is_applied() -> None:
    sync = Sync()
    monitor = service_monitor("watch", NAMESPACE)
    plain = config_map("plain", NAMESPACE)
    operation = sync.start([plain, monitor])
    assert operation.phase == "Failed"
    assert operation.message == (
        "one or more synchronization tasks are not valid: ServiceMonitor team/watch: the "
        "server could not find the requested resource: ServiceMonitor.monitoring.coreos.com "
        "has no CustomResourceDefinition in the cluster"
    )
    sync.run(operation)
    assert not sync.has(plain)


def test_a_custom_resource_is_valid_when_its_crd_is_in_the_same_sync() -> None:
    """The CRD comes first in the wave (kind order), so the resource can be applied after it."""
    sync = Sync()
    monitor = service_monitor("watch", NAMESPACE)
    definition = crd("monitoring.coreos.com", "ServiceMonitor")
    operation = sync.start([monitor, definition])
    assert operation.phase == "Running"
    assert task_of(operation, monitor).skip_dry_run
    sync.run(operation)
    assert operation.phase == "Succeeded"
    assert sync.has(monitor)


def test_a_custom_resource_is_valid_when_its_crd_is_installed() -> None:
    sync = Sync()
    sync.cluster.install_crds({("monitoring.coreos.com", "ServiceMonitor")})
    monitor = service_monitor("watch", NAMESPACE)
    operation = sync.start([monitor])
    assert not task_of(operation, monitor).skip_dry_run
    assert sync.run(operation).phase == "Succeeded"


def test_skip_dry_run_on_missing_resource_passes_validation_but_the_apply_is_refused() -> None:
    sync = Sync()
    monitor = with_sync_option(
        service_monitor("watch", NAMESPACE), "SkipDryRunOnMissingResource=true"
    )
    operation = sync.start([monitor])
    assert operation.phase == "Running"
    sync.run(operation)
    assert operation.phase == "Failed"
    assert operation.message.startswith(
        "one or more objects failed to apply: ServiceMonitor team/watch: the server could not "
        "find the requested resource (monitoring.coreos.com/v1, Kind=ServiceMonitor)"
    )


@pytest.mark.parametrize(
    ("obj", "app_project", "problem"),
    [
        pytest.param(
            config_map("settings", NAMESPACE),
            project(namespace_resources=[{"group": "", "kind": "Secret"}]),
            "ConfigMap team/settings: resource :ConfigMap is not permitted in project team",
            id="namespaced kind outside namespaceResourceWhitelist",
        ),
        pytest.param(
            namespace("extra"),
            project(cluster_resources=[]),
            "Namespace extra: resource :Namespace is not permitted in project team",
            id="cluster-scoped kind with an empty clusterResourceWhitelist",
        ),
        pytest.param(
            config_map("settings", "other"),
            project(destinations=[("*", NAMESPACE)]),
            "ConfigMap other/settings: namespace other is not permitted in project 'team'",
            id="namespace outside the project's destinations",
        ),
    ],
)
def test_what_the_project_does_not_permit_fails_validation(
    obj: dict[str, Any], app_project: dict[str, Any], problem: str
) -> None:
    sync = Sync("other")
    permitted = secret("permitted", NAMESPACE, {"key": "value"})
    operation = sync.start([permitted, obj], app_project=app_project)
    assert operation.phase == "Failed"
    assert operation.message == f"one or more synchronization tasks are not valid: {problem}"
    sync.run(operation)
    assert not sync.has(permitted)


@pytest.mark.parametrize(
    ("objects", "app_project"),
    [
        pytest.param(
            [config_map("settings", NAMESPACE)],
            project(namespace_resources=[{"group": "", "kind": "ConfigMap"}]),
            id="namespaced kind in namespaceResourceWhitelist",
        ),
        pytest.param(
            [namespace("extra")],
            project(cluster_resources=[{"group": "", "kind": "Namespace"}]),
            id="cluster-scoped kind in clusterResourceWhitelist",
        ),
        pytest.param(
            [config_map("settings", NAMESPACE), config_map("settings", "other")],
            project(destinations=[("*", NAMESPACE), ("*", "other")]),
            id="namespaces among the project's destinations",
        ),
    ],
)
def test_what_the_project_permits_is_applied(
    objects: list[dict[str, Any]], app_project: dict[str, Any]
) -> None:
    sync = Sync("other")
    operation = sync.run(sync.start(objects, app_project=app_project))
    assert operation.phase == "Succeeded"
    assert all(sync.has(o) for o in objects)


def test_an_application_without_its_project_fails_validation() -> None:
    sync = Sync()
    desired = [config_map("a", NAMESPACE)]
    request = SyncRequest(APP, None, IN_CLUSTER, NAMESPACE, desired, [], False, [], None)
    operation = sync.runner.start(request, "main")
    assert operation.message == (
        "one or more synchronization tasks are not valid: ConfigMap team/a: the Application's "
        "AppProject does not exist"
    )


# --- CreateNamespace ------------------------------------------------------------------------


def test_create_namespace_creates_it_with_the_managed_metadata_first() -> None:
    sync = Sync()
    settings = config_map("settings", "fresh")
    operation = sync.run(
        sync.start(
            [settings],
            destination="fresh",
            options=("CreateNamespace=true",),
            namespace_metadata={"labels": {"tier": "tenant"}, "annotations": {"team": "a"}},
        )
    )
    assert operation.phase == "Succeeded"
    live = sync.cluster.objects[Key("", "Namespace", "", "fresh")]
    assert live["metadata"]["labels"] == {"tier": "tenant"}
    assert live["metadata"]["annotations"] == {"team": "a"}
    assert sync.has(settings)


def test_without_create_namespace_the_apply_is_refused_and_the_operation_fails() -> None:
    sync = Sync()
    operation = sync.run(sync.start([config_map("settings", "fresh")], destination="fresh"))
    assert operation.phase == "Failed"
    assert operation.message == (
        'one or more objects failed to apply: ConfigMap fresh/settings: namespaces "fresh" '
        "not found"
    )


def test_a_created_namespace_is_never_pruned_but_a_managed_one_is() -> None:
    sync = Sync()
    create = ("CreateNamespace=true",)
    managed = namespace("managed")
    desired = [managed, config_map("settings", "fresh")]
    sync.run(sync.start(desired, destination="fresh", options=create))
    assert sync.has(managed)

    operation = sync.run(sync.start([], destination="fresh", prune=True))
    assert operation.phase == "Succeeded"
    assert Key("", "Namespace", "", "fresh") in sync.cluster.objects
    assert not sync.has(managed)


# --- prune ----------------------------------------------------------------------------------


def test_without_prune_an_object_the_tree_dropped_is_left() -> None:
    sync = Sync()
    old, kept = config_map("old", NAMESPACE), config_map("kept", NAMESPACE)
    sync.run(sync.start([old, kept]))
    operation = sync.run(sync.start([kept]))
    assert operation.phase == "Succeeded"
    assert sync.has(old)
    task = task_of(operation, old)
    assert (task.status, task.message) == ("PruneSkipped", "ignored (requires pruning)")


def test_with_prune_an_object_the_tree_dropped_is_deleted() -> None:
    sync = Sync()
    old, kept = config_map("old", NAMESPACE), config_map("kept", NAMESPACE)
    sync.run(sync.start([old, kept]))
    operation = sync.run(sync.start([kept], prune=True))
    assert operation.phase == "Succeeded"
    assert not sync.has(old)
    assert sync.has(kept)
    assert (task_of(operation, old).status, task_of(operation, old).message) == (
        "Pruned",
        "pruned",
    )


def test_prune_false_on_the_object_keeps_it_even_when_the_operation_prunes() -> None:
    sync = Sync()
    old = with_sync_option(config_map("old", NAMESPACE), "Prune=false")
    sync.run(sync.start([old]))
    operation = sync.run(sync.start([], prune=True))
    assert sync.has(old)
    assert task_of(operation, old).message == "ignored (no prune)"


# --- hooks ----------------------------------------------------------------------------------


def test_a_post_sync_hook_runs_after_the_sync_phase_and_the_operation_waits_for_it() -> None:
    sync = Sync()
    app = saying(config_map("app", NAMESPACE), "Progressing")
    smoke = as_hook(saying(workload("Job", "smoke", NAMESPACE, {}), "Progressing"), "PostSync")
    operation = sync.run(sync.start([smoke, app]))
    assert sync.has(app)
    assert not sync.has(smoke)  # the sync phase is not done
    assert operation.message == "waiting for healthy state of /ConfigMap/app"

    turn(sync.cluster, app, "Healthy")
    sync.run(operation)
    assert sync.has(smoke)
    assert (operation.phase, operation.message) == (
        "Running",
        "waiting for completion of hook batch/Job/smoke",
    )

    turn(sync.cluster, smoke, "Healthy")
    sync.run(operation)
    assert (operation.phase, operation.message) == (
        "Succeeded",
        "successfully synced (no more tasks)",
    )


def test_a_failed_post_sync_hook_fails_the_operation() -> None:
    sync = Sync()
    smoke = as_hook(saying(workload("Job", "smoke", NAMESPACE, {}), "Progressing"), "PostSync")
    operation = sync.run(sync.start([config_map("app", NAMESPACE), smoke]))
    turn(sync.cluster, smoke, "Degraded")
    sync.run(operation)
    assert operation.phase == "Failed"
    assert operation.message == (
        "one or more synchronization tasks completed unsuccessfully: "
        "Job team/smoke: it says Degraded"
    )


@pytest.mark.parametrize(
    ("health", "phase"),
    [("Unknown", "Failed"), ("Suspended", "Running"), ("Progressing", "Running")],
)
def test_a_hook_fails_on_unknown_health_and_waits_while_suspended(health: str, phase: str) -> None:
    """getOperationPhase: Unknown and Degraded fail a hook; Progressing and Suspended run on."""
    sync = Sync()
    smoke = as_hook(saying(workload("Job", "smoke", NAMESPACE, {}), "Progressing"), "PostSync")
    operation = sync.run(sync.start([smoke]))
    turn(sync.cluster, smoke, health)
    assert sync.run(operation).phase == phase


def test_a_resource_of_unknown_health_keeps_its_wave_waiting() -> None:
    """A resource (not a hook) moves on only when Healthy, and fails only when Degraded."""
    sync = Sync()
    first = in_wave(saying(config_map("first", NAMESPACE), "Unknown"), 0)
    second = in_wave(config_map("second", NAMESPACE), 1)
    operation = sync.run(sync.start([first, second]))
    assert operation.phase == "Running"
    assert not sync.has(second)


def test_a_hook_is_not_a_resource_of_the_sync_phase() -> None:
    sync = Sync()
    smoke = as_hook(workload("Job", "smoke", NAMESPACE, {}), "PostSync")
    operation = sync.start([smoke])
    assert [(t.phase, t.hook) for t in operation.tasks] == [("PostSync", True)]
