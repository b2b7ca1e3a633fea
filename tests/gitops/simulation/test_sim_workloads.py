"""The workload controllers (gitops/simulation/workloads.py) and what Argo CD's health checks
read from the statuses they write: a Deployment's progress deadline (which `settle()` lets
expire), a StatefulSet that waits for ever, a Job's backoff, the HorizontalPodAutoscaler's
conditions, a PodDisruptionBudget's and a PersistentVolumeClaim's binding."""

from __future__ import annotations

from typing import Any

import pytest

from gitops.simulation import workloads
from gitops.simulation.engine import Simulation
from gitops.simulation.health import Health
from gitops.simulation.keys import Key, key_of
from tests.gitops.simulation.support import (
    OWN,
    container,
    kind_world,
    meta,
    pod_spec,
    simulation,
    workload,
)

NS = "team"
NOT_LOADED = f"{OWN}inference-service:dev"  # a platform image Kind's nodes do not have
BUCKET_JOB_IMAGE = "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z"  # ready once MinIO is


def cluster(metrics_api: bool = False) -> Simulation:
    world = kind_world()
    world.metrics_api = metrics_api
    sim = simulation([], world)
    sim.create_namespace(NS)
    return sim


def put(sim: Simulation, *objects: dict[str, Any]) -> None:
    assert sim.apply(list(objects)) == []


def reconcile_once(sim: Simulation) -> None:
    """One pass of the controllers, before any deadline passes."""
    workloads.reconcile(sim.cluster, sim.world, sim.workloads, sim.capabilities)


def health_of(sim: Simulation, obj: dict[str, Any]) -> Health:
    health = sim.health(sim.cluster.get(key_of(obj)) or {})
    assert health is not None
    return health


def stuck(kind: str, name: str = "api") -> dict[str, Any]:
    """A workload whose pod is admitted but never starts (its image is not on the nodes)."""
    return workload(kind, name, NS, pod_spec(container(image=NOT_LOADED)))


def running(kind: str, name: str = "api") -> dict[str, Any]:
    return workload(kind, name, NS, pod_spec(container()))


# --- Deployment -------------------------------------------------------------------------------


def test_a_deployment_is_progressing_until_its_deadline_then_degraded() -> None:
    sim = cluster()
    deployment = stuck("Deployment")
    put(sim, deployment)
    reconcile_once(sim)
    assert health_of(sim, deployment).status == "Progressing"

    sim.settle()
    assert health_of(sim, deployment) == Health(
        "Degraded", 'Deployment "api" exceeded its progress deadline'
    )
    progressing = next(
        c
        for c in sim.cluster.objects[key_of(deployment)]["status"]["conditions"]
        if c["type"] == "Progressing"
    )
    assert progressing["reason"] == "ProgressDeadlineExceeded"
    assert f"ErrImagePull: {NOT_LOADED} is not loaded into the nodes" in progressing["message"]


def test_a_deployment_whose_pods_run_is_healthy_after_time_passes() -> None:
    sim = cluster()
    deployment = running("Deployment")
    put(sim, deployment)
    sim.settle()
    assert health_of(sim, deployment).status == "Healthy"


def test_a_deployment_whose_pods_are_refused_reports_replica_failure() -> None:
    sim = cluster()
    refused = workload("Deployment", "api", NS, pod_spec(container(), serviceAccountName="nobody"))
    put(sim, refused)
    reconcile_once(sim)
    conditions = {
        c["type"]: c for c in sim.cluster.objects[key_of(refused)]["status"]["conditions"]
    }
    assert conditions["ReplicaFailure"]["reason"] == "FailedCreate"
    assert conditions["ReplicaFailure"]["message"] == (
        "pods refused: error looking up service account team/nobody: "
        'serviceaccount "nobody" not found'
    )
    put(sim, stuck("Deployment", "other"))
    reconcile_once(sim)
    other = sim.cluster.objects[Key("apps", "Deployment", NS, "other")]["status"]
    assert "ReplicaFailure" not in {c["type"] for c in other["conditions"]}


# --- StatefulSet ------------------------------------------------------------------------------


def test_a_statefulset_waits_for_ever() -> None:
    sim = cluster()
    statefulset = stuck("StatefulSet")
    put(sim, statefulset)
    sim.settle()
    health = health_of(sim, statefulset)
    assert health.status == "Progressing"


def test_a_statefulset_whose_pods_run_is_healthy() -> None:
    sim = cluster()
    statefulset = running("StatefulSet")
    put(sim, statefulset)
    sim.settle()
    assert health_of(sim, statefulset).status == "Healthy"


# --- Job --------------------------------------------------------------------------------------


def test_a_job_that_starts_but_cannot_finish_fails_after_its_backoff() -> None:
    sim = cluster()
    job = workload("Job", "bucket", NS, pod_spec(container(image=BUCKET_JOB_IMAGE)))
    put(sim, job)
    reconcile_once(sim)
    assert health_of(sim, job).status == "Progressing"

    sim.settle()
    status = sim.cluster.objects[key_of(job)]["status"]
    assert status["conditions"][0]["reason"] == "BackoffLimitExceeded"
    assert status["conditions"][0]["message"] == ("pod not ready: the bucket job waits for MinIO")
    assert health_of(sim, job).status == "Degraded"


def test_a_job_whose_pod_never_starts_stays_running() -> None:
    sim = cluster()
    job = stuck("Job", "bucket")
    put(sim, job)
    sim.settle()
    assert health_of(sim, job).status == "Progressing"


def test_a_job_whose_pod_finishes_completes() -> None:
    sim = cluster()
    job = running("Job", "bucket")
    put(sim, job)
    sim.settle()
    assert health_of(sim, job).status == "Healthy"


# --- HorizontalPodAutoscaler ------------------------------------------------------------------


def autoscaler(target: str = "api", min_replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta("api", NS),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": min_replicas,
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                }
            ],
        },
    }


@pytest.mark.parametrize(
    ("metrics_api", "target", "status", "message"),
    [
        pytest.param(
            False,
            running("Deployment"),
            "Degraded",
            "no metrics API (metrics.k8s.io) is served",
            id="no metrics API",
        ),
        pytest.param(
            True,
            stuck("Deployment"),
            "Degraded",
            "did not receive metrics for targeted pods (pods might be unready)",
            id="no ready pod",
        ),
        pytest.param(True, None, "Degraded", "not found", id="no target"),
        pytest.param(True, running("Deployment"), "Healthy", "", id="metrics and ready pods"),
    ],
)
def test_an_autoscaler(
    metrics_api: bool, target: dict[str, Any] | None, status: str, message: str
) -> None:
    sim = cluster(metrics_api)
    hpa = autoscaler()
    put(sim, hpa, *([target] if target else []))
    sim.settle()
    health = health_of(sim, hpa)
    assert health.status == status
    assert message in health.message


def test_an_autoscaler_raises_replicas_to_its_minimum() -> None:
    sim = cluster(metrics_api=True)
    deployment = running("Deployment")
    put(sim, deployment, autoscaler(min_replicas=3))
    sim.settle()
    assert sim.workloads.pods[key_of(deployment)].wanted == 3
    assert sim.cluster.objects[key_of(deployment)]["status"]["readyReplicas"] == 3


# --- PodDisruptionBudget ----------------------------------------------------------------------


def budget(min_available: int) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta("api", NS),
        "spec": {
            "minAvailable": min_available,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "api"}},
        },
    }


@pytest.mark.parametrize(
    ("replicas", "reason", "allowed"),
    [(1, "InsufficientPods", "False"), (2, "SufficientPods", "True")],
)
def test_a_disruption_budget(replicas: int, reason: str, allowed: str) -> None:
    sim = cluster()
    deployment = running("Deployment")
    deployment["spec"]["replicas"] = replicas
    pdb = budget(1)
    put(sim, deployment, pdb)
    sim.settle()
    status = sim.cluster.objects[key_of(pdb)]["status"]
    assert (status["currentHealthy"], status["desiredHealthy"]) == (replicas, 1)
    assert status["conditions"][0] | {} == {
        "type": "DisruptionAllowed",
        "status": allowed,
        "reason": reason,
    }
    # Argo CD's check: Healthy either way (InsufficientPods is not Degraded: argo-cd #20171)
    assert health_of(sim, pdb) == Health("Healthy", f"PodDisruptionBudget has {reason}")


def test_a_disruption_budget_without_healthy_pods() -> None:
    sim = cluster()
    pdb = budget(1)
    put(sim, stuck("Deployment"), pdb)
    sim.settle()
    assert sim.cluster.objects[key_of(pdb)]["status"]["currentHealthy"] == 0


# --- PersistentVolumeClaim --------------------------------------------------------------------


def storage_class(name: str, binding: str) -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": meta(name),
        "provisioner": "ebs.csi.aws.com",
        "volumeBindingMode": binding,
    }


def claim(storage: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"]}
    if storage:
        spec["storageClassName"] = storage
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta("data", NS),
        "spec": spec,
    }


def mounting(name: str = "db") -> dict[str, Any]:
    volume = {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}
    return workload("StatefulSet", name, NS, pod_spec(container(), volumes=[volume]))


def test_a_wait_for_first_consumer_claim_binds_once_a_pod_mounts_it() -> None:
    sim = cluster()
    pvc = claim("gp3")
    put(sim, storage_class("gp3", "WaitForFirstConsumer"), pvc)
    sim.settle()
    live = sim.cluster.objects[key_of(pvc)]
    assert live["status"] == {"phase": "Pending"}
    assert live["_problem"] == "waiting for first consumer to be created before binding"

    put(sim, mounting())
    sim.settle()
    assert sim.cluster.objects[key_of(pvc)]["status"] == {"phase": "Bound"}
    assert health_of(sim, mounting()).status == "Healthy"


def test_an_immediate_claim_binds_at_once() -> None:
    sim = cluster()
    pvc = claim("gp3")
    put(sim, storage_class("gp3", "Immediate"), pvc)
    sim.settle()
    assert sim.cluster.objects[key_of(pvc)]["status"] == {"phase": "Bound"}


@pytest.mark.parametrize(
    ("storage", "phase", "problem"),
    [
        ("gp3", "Pending", "no StorageClass 'gp3'"),
        (None, "Bound", None),  # Kind's default class `standard`
        ("standard", "Bound", None),
    ],
)
def test_a_claim_needs_its_storage_class(
    storage: str | None, phase: str, problem: str | None
) -> None:
    sim = cluster()
    pvc = claim(storage)
    put(sim, pvc)
    sim.settle()
    live = sim.cluster.objects[key_of(pvc)]
    assert live["status"]["phase"] == phase
    assert live.get("_problem") == problem
