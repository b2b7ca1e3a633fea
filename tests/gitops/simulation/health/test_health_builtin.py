"""Each branch of Argo CD's built-in Go health checks (gitops-engine/pkg/health/health_*.go at
v3.5.1), on a minimal object of our own: the status and message the Go code gives, including
its errors (an apiVersion the check does not convert, a field of the wrong type)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gitops.simulation.health import Health, HealthChecks, HealthStatus

HEALTHY, PROGRESSING = HealthStatus.HEALTHY, HealthStatus.PROGRESSING
DEGRADED, SUSPENDED, UNKNOWN = HealthStatus.DEGRADED, HealthStatus.SUSPENDED, HealthStatus.UNKNOWN


def obj(api_version: str, kind: str, name: str = "web", **fields: Any) -> dict[str, Any]:
    meta = {"name": name, "namespace": "tenant-a", **fields.pop("metadata", {})}
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **fields}


def deployment(spec: dict[str, Any] | None = None, **status: Any) -> dict[str, Any]:
    return obj(
        "apps/v1",
        "Deployment",
        metadata={"generation": 2},
        spec={"replicas": 3, **(spec or {})},
        status={"observedGeneration": 2, **status},
    )


ROLLED_OUT = {"replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}
DEADLINE = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}

DEPLOYMENT = [
    ("healthy", deployment(**ROLLED_OUT), Health(HEALTHY)),
    (
        "paused",
        deployment({"paused": True}, **ROLLED_OUT),
        Health(SUSPENDED, "Deployment is paused"),
    ),
    (
        "paused wins over a missed deadline",
        deployment({"paused": True}, conditions=[DEADLINE]),
        Health(SUSPENDED, "Deployment is paused"),
    ),
    (
        "generation not observed yet",
        deployment(**{**ROLLED_OUT, "observedGeneration": 1}),
        Health(
            PROGRESSING,
            "Waiting for rollout to finish: observed deployment generation less than desired "
            "generation",
        ),
    ),
    (
        "progress deadline exceeded",
        deployment(conditions=[DEADLINE], **ROLLED_OUT),
        Health(DEGRADED, 'Deployment "web" exceeded its progress deadline'),
    ),
    (
        "new replicas not all updated",
        deployment(replicas=3, updatedReplicas=1),
        Health(
            PROGRESSING,
            "Waiting for rollout to finish: 1 out of 3 new replicas have been updated...",
        ),
    ),
    (
        "old replicas pending termination",
        deployment(replicas=4, updatedReplicas=3, availableReplicas=3),
        Health(
            PROGRESSING, "Waiting for rollout to finish: 1 old replicas are pending termination..."
        ),
    ),
    (
        "updated replicas not all available",
        deployment(replicas=3, updatedReplicas=3, availableReplicas=2),
        Health(
            PROGRESSING, "Waiting for rollout to finish: 2 of 3 updated replicas are available..."
        ),
    ),
    (
        "no spec.replicas: the updated-count check is skipped (a nil pointer in Go)",
        obj(
            "apps/v1",
            "Deployment",
            metadata={"generation": 1},
            spec={},
            status={"observedGeneration": 1},
        ),
        Health(HEALTHY),
    ),
    (
        "an apiVersion the check does not convert",
        {**deployment(**ROLLED_OUT), "apiVersion": "apps/v1beta2"},
        Health(
            UNKNOWN,
            "unsupported Deployment GVK: apps/v1beta2, Kind=Deployment",
            error="unsupported Deployment GVK: apps/v1beta2, Kind=Deployment",
        ),
    ),
]


def stateful_set(spec: dict[str, Any] | None = None, **status: Any) -> dict[str, Any]:
    return obj(
        "apps/v1",
        "StatefulSet",
        name="minio",
        metadata={"generation": 1},
        spec={"replicas": 3, **(spec or {})},
        status={"observedGeneration": 1, **status},
    )


READY = {"readyReplicas": 3, "currentReplicas": 3, "updatedReplicas": 3}
REVISIONS = {"currentRevision": "minio-1", "updateRevision": "minio-1"}
ROLLING = {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}}

STATEFUL_SET = [
    (
        "not observed at all",
        stateful_set(**{**READY, "observedGeneration": 0}),
        Health(PROGRESSING, "Waiting for statefulset spec update to be observed..."),
    ),
    (
        "generation not observed yet",
        {**stateful_set(**READY), "metadata": {"name": "minio", "generation": 2}},
        Health(PROGRESSING, "Waiting for statefulset spec update to be observed..."),
    ),
    (
        "pods not ready",
        stateful_set(readyReplicas=1),
        Health(PROGRESSING, "Waiting for 2 pods to be ready..."),
    ),
    (
        "partitioned roll out under way",
        stateful_set(
            {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}},
            readyReplicas=3,
            updatedReplicas=1,
        ),
        Health(
            PROGRESSING,
            "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...",
        ),
    ),
    (
        "rolling update with its defaults applied",
        stateful_set(ROLLING, **READY),
        Health(HEALTHY, "partitioned roll out complete: 3 new pods have been updated..."),
    ),
    (
        "on delete",
        stateful_set({"updateStrategy": {"type": "OnDelete"}}, **READY),
        Health(HEALTHY, "statefulset has 3 ready pods"),
    ),
    (
        "no strategy (defaults not applied): revisions differ",
        stateful_set(**READY, currentRevision="minio-1", updateRevision="minio-2"),
        Health(
            PROGRESSING,
            "waiting for statefulset rolling update to complete 3 pods at revision minio-2...",
        ),
    ),
    (
        "no strategy: one revision",
        stateful_set(**READY, **REVISIONS),
        Health(HEALTHY, "statefulset rolling update complete 3 pods at revision minio-1..."),
    ),
    (
        "RollingUpdate without rollingUpdate reads the revisions",
        stateful_set({"updateStrategy": {"type": "RollingUpdate"}}, **READY, **REVISIONS),
        Health(HEALTHY, "statefulset rolling update complete 3 pods at revision minio-1..."),
    ),
]


def replica_set(**status: Any) -> dict[str, Any]:
    return obj(
        "apps/v1",
        "ReplicaSet",
        metadata={"generation": 1},
        spec={"replicas": 2},
        status={"observedGeneration": 1, **status},
    )


REPLICA_SET = [
    ("available", replica_set(availableReplicas=2), Health(HEALTHY)),
    (
        "generation not observed yet",
        replica_set(availableReplicas=2, observedGeneration=0),
        Health(
            PROGRESSING,
            "Waiting for rollout to finish: observed replica set generation less than desired "
            "generation",
        ),
    ),
    (
        "replica failure",
        replica_set(
            conditions=[{"type": "ReplicaFailure", "status": "True", "message": "quota exceeded"}]
        ),
        Health(DEGRADED, "quota exceeded"),
    ),
    (
        "replica failure condition not true",
        replica_set(
            availableReplicas=2,
            conditions=[{"type": "ReplicaFailure", "status": "False", "message": "old"}],
        ),
        Health(HEALTHY),
    ),
    (
        "not all available",
        replica_set(availableReplicas=1),
        Health(
            PROGRESSING, "Waiting for rollout to finish: 1 out of 2 new replicas are available..."
        ),
    ),
]


def daemon_set(strategy: str = "RollingUpdate", **status: Any) -> dict[str, Any]:
    return obj(
        "apps/v1",
        "DaemonSet",
        name="node-exporter",
        metadata={"generation": 1},
        spec={"updateStrategy": {"type": strategy}},
        status={"observedGeneration": 1, "desiredNumberScheduled": 2, **status},
    )


DAEMON_SET = [
    (
        "rolled out",
        daemon_set(updatedNumberScheduled=2, numberAvailable=2),
        Health(HEALTHY),
    ),
    (
        "generation not observed yet",
        daemon_set(observedGeneration=0),
        Health(
            PROGRESSING,
            "Waiting for rollout to finish: observed daemon set generation less than desired "
            "generation",
        ),
    ),
    (
        "on delete",
        daemon_set("OnDelete", updatedNumberScheduled=1),
        Health(HEALTHY, "daemon set 1 out of 2 new pods have been updated"),
    ),
    (
        "pods not updated",
        daemon_set(updatedNumberScheduled=1),
        Health(
            PROGRESSING,
            'Waiting for daemon set "node-exporter" rollout to finish: 1 out of 2 new pods have '
            "been updated...",
        ),
    ),
    (
        "pods not available",
        daemon_set(updatedNumberScheduled=2, numberAvailable=1),
        Health(
            PROGRESSING,
            'Waiting for daemon set "node-exporter" rollout to finish: 1 of 2 updated pods are '
            "available...",
        ),
    ),
]


def pod(restart_policy: str | None = "Always", **status: Any) -> dict[str, Any]:
    spec = {"containers": [{"name": "main", "image": "app:1"}]}
    if restart_policy is not None:
        spec["restartPolicy"] = restart_policy
    return obj("v1", "Pod", name="web-0", spec=spec, status=status)


def waiting(reason: str, message: str, name: str = "main") -> dict[str, Any]:
    return {"name": name, "state": {"waiting": {"reason": reason, "message": message}}}


def terminated(name: str, **state: Any) -> dict[str, Any]:
    return {"name": name, "state": {"terminated": state}}


READY_TRUE = [{"type": "Ready", "status": "True"}]

POD = [
    (
        "crash loop",
        pod(phase="Running", containerStatuses=[waiting("CrashLoopBackOff", "back-off 5m0s")]),
        Health(DEGRADED, "back-off 5m0s"),
    ),
    (
        "image pull back-off and an Err reason, messages joined",
        pod(
            phase="Pending",
            containerStatuses=[
                waiting("ImagePullBackOff", "Back-off pulling image"),
                waiting("ErrImagePull", "pull access denied", "sidecar"),
            ],
        ),
        Health(DEGRADED, "Back-off pulling image, pull access denied"),
    ),
    (
        "a waiting reason ending in Error",
        pod(phase="Pending", containerStatuses=[waiting("CreateContainerConfigError", "no key")]),
        Health(DEGRADED, "no key"),
    ),
    (
        "a waiting reason that is not a failure",
        pod(
            phase="Pending",
            message="scheduling",
            containerStatuses=[waiting("ContainerCreating", "")],
        ),
        Health(PROGRESSING, "scheduling"),
    ),
    (
        "restartPolicy Never: an image pull back-off is not a failure (hooks)",
        pod("Never", phase="Pending", containerStatuses=[waiting("ImagePullBackOff", "x")]),
        Health(PROGRESSING, ""),
    ),
    ("pending", pod(phase="Pending", message="0/1 nodes"), Health(PROGRESSING, "0/1 nodes")),
    ("succeeded", pod("Never", phase="Succeeded"), Health(HEALTHY, "")),
    (
        "failed with a pod message",
        pod("Never", phase="Failed", message="evicted"),
        Health(DEGRADED, "evicted"),
    ),
    (
        "failed: a terminated container's message",
        pod(
            "Never",
            phase="Failed",
            containerStatuses=[terminated("main", message="boom", exitCode=1)],
        ),
        Health(DEGRADED, "boom"),
    ),
    (
        "failed: OOMKilled",
        pod(
            "Never",
            phase="Failed",
            containerStatuses=[terminated("main", reason="OOMKilled", exitCode=137)],
        ),
        Health(DEGRADED, "OOMKilled"),
    ),
    (
        "failed: an exit code",
        pod("Never", phase="Failed", containerStatuses=[terminated("main", exitCode=2)]),
        Health(DEGRADED, 'container "main" failed with exit code 2'),
    ),
    (
        "failed: init containers are read first",
        pod(
            "Never",
            phase="Failed",
            initContainerStatuses=[terminated("init", exitCode=1)],
            containerStatuses=[terminated("main", message="later")],
        ),
        Health(DEGRADED, 'container "init" failed with exit code 1'),
    ),
    (
        "failed without any reason",
        pod("Never", phase="Failed", containerStatuses=[terminated("main", exitCode=0)]),
        Health(DEGRADED, ""),
    ),
    ("running and ready", pod(phase="Running", conditions=READY_TRUE), Health(HEALTHY, "")),
    (
        "running, not ready, restarted before",
        pod(
            phase="Running",
            conditions=[{"type": "Ready", "status": "False"}],
            containerStatuses=[{"name": "main", "lastState": {"terminated": {"exitCode": 1}}}],
        ),
        Health(DEGRADED, ""),
    ),
    (
        "running, not ready yet",
        pod(phase="Running", message="probing", conditions=[{"type": "Ready", "status": "False"}]),
        Health(PROGRESSING, "probing"),
    ),
    (
        "running: the first Ready condition decides",
        pod(phase="Running", conditions=[{"type": "Ready", "status": "False"}, *READY_TRUE]),
        Health(PROGRESSING, ""),
    ),
    ("running, restartPolicy Never", pod("Never", phase="Running"), Health(PROGRESSING, "")),
    (
        "running, restartPolicy OnFailure",
        pod("OnFailure", phase="Running"),
        Health(PROGRESSING, ""),
    ),
    (
        "running without restartPolicy (defaults not applied) matches no case",
        pod(None, phase="Running", conditions=READY_TRUE),
        Health(UNKNOWN, ""),
    ),
    ("no phase", pod(message="?"), Health(UNKNOWN, "?")),
]


def service(kind: str, **status: Any) -> dict[str, Any]:
    return obj("v1", "Service", spec={"type": kind}, status=status)


LB_INGRESS = {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}}

NETWORK = [
    ("ClusterIP service", service("ClusterIP"), Health(HEALTHY)),
    ("LoadBalancer without an address", service("LoadBalancer"), Health(PROGRESSING)),
    ("LoadBalancer with an address", service("LoadBalancer", **LB_INGRESS), Health(HEALTHY)),
    (
        "Ingress without a load balancer",
        obj("networking.k8s.io/v1", "Ingress", spec={}),
        Health(PROGRESSING),
    ),
    (
        "Ingress with a load balancer",
        obj("networking.k8s.io/v1", "Ingress", status=LB_INGRESS),
        Health(HEALTHY),
    ),
    (
        "extensions Ingress, any version",
        obj("extensions/v1beta1", "Ingress", status=LB_INGRESS),
        Health(HEALTHY),
    ),
    (
        "Ingress status of another type reads as absent",
        obj("networking.k8s.io/v1", "Ingress", status={"loadBalancer": "pending"}),
        Health(PROGRESSING),
    ),
]

PVC = [
    (phase, obj("v1", "PersistentVolumeClaim", status={"phase": phase}), Health(status))
    for phase, status in (
        ("Bound", HEALTHY),
        ("Pending", PROGRESSING),
        ("Lost", DEGRADED),
        ("Resizing", UNKNOWN),
    )
]


def job(*conditions: dict[str, str]) -> dict[str, Any]:
    return obj("batch/v1", "Job", status={"conditions": list(conditions)})


JOB = [
    ("running", job(), Health(PROGRESSING, "")),
    (
        "only a FailureTarget condition",
        job({"type": "FailureTarget", "status": "True", "message": "x"}),
        Health(PROGRESSING, ""),
    ),
    (
        "complete",
        job({"type": "Complete", "status": "True", "message": "done"}),
        Health(HEALTHY, "done"),
    ),
    (
        "failed",
        job({"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}),
        Health(DEGRADED, "BackoffLimitExceeded"),
    ),
    (
        "a Failed condition counts whatever its status",
        job({"type": "Failed", "status": "False", "message": "old"}),
        Health(DEGRADED, "old"),
    ),
    (
        "suspended: the (empty) failure message",
        job({"type": "Suspended", "status": "True", "message": "paused"}),
        Health(SUSPENDED, ""),
    ),
    (
        "a Suspended condition that is False ends the wait",
        job({"type": "Suspended", "status": "False", "message": "resumed"}),
        Health(HEALTHY, "resumed"),
    ),
]


def hpa_v2(*conditions: dict[str, str]) -> dict[str, Any]:
    return obj("autoscaling/v2", "HorizontalPodAutoscaler", status={"conditions": list(conditions)})


def hpa_v1(annotation: str | None) -> dict[str, Any]:
    notes = {} if annotation is None else {"autoscaling.alpha.kubernetes.io/conditions": annotation}
    return obj("autoscaling/v1", "HorizontalPodAutoscaler", metadata={"annotations": notes})


ABLE = {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": "ok"}
NO_METRICS = {
    "type": "ScalingActive",
    "status": "False",
    "reason": "FailedGetResourceMetric",
    "message": "no metrics",
}
WAITING = Health(PROGRESSING, "Waiting to Autoscale")

HPA = [
    ("v2 without conditions", hpa_v2(), WAITING),
    ("v2 able to scale", hpa_v2(ABLE), Health(HEALTHY, "ok")),
    (
        "v2 a degraded reason wins over a healthy one",
        hpa_v2(ABLE, NO_METRICS),
        Health(DEGRADED, "no metrics"),
    ),
    (
        "v2 scaling limited",
        hpa_v2({"type": "ScalingLimited", "status": "True", "message": "at max"}),
        Health(HEALTHY, "at max"),
    ),
    (
        "v2 unable to scale for a reason not listed",
        hpa_v2({"type": "AbleToScale", "status": "False", "reason": "BackoffBoth"}),
        WAITING,
    ),
    ("v1 without the annotation", hpa_v1(None), WAITING),
    ("v1 annotation with a healthy condition", hpa_v1(json.dumps([ABLE])), Health(HEALTHY, "ok")),
    (
        "v1 annotation keys match case-insensitively",
        hpa_v1(json.dumps([{"Type": "AbleToScale", "STATUS": "True", "Message": "ok"}])),
        Health(HEALTHY, "ok"),
    ),
    ("v1 annotation with no conditions", hpa_v1("[]"), WAITING),
    ("v1 annotation null", hpa_v1("null"), WAITING),
    (
        "an apiVersion the check does not convert",
        obj("autoscaling/v2beta2", "HorizontalPodAutoscaler"),
        Health(
            UNKNOWN,
            "unsupported HPA GVK: autoscaling/v2beta2, Kind=HorizontalPodAutoscaler",
            error="unsupported HPA GVK: autoscaling/v2beta2, Kind=HorizontalPodAutoscaler",
        ),
    ),
]


def api_service(api_version: str, *conditions: dict[str, str]) -> dict[str, Any]:
    return obj(
        api_version,
        "APIService",
        name="v1beta1.metrics.k8s.io",
        status={"conditions": list(conditions)},
    )


AVAILABLE = {
    "type": "Available",
    "status": "True",
    "reason": "Passed",
    "message": "all checks passed",
}
UNAVAILABLE = {
    "type": "Available",
    "status": "False",
    "reason": "MissingEndpoints",
    "message": "none",
}

API_SERVICE = [
    (
        "v1 available",
        api_service("apiregistration.k8s.io/v1", AVAILABLE),
        Health(HEALTHY, "Passed: all checks passed"),
    ),
    (
        "v1beta1 available",
        api_service("apiregistration.k8s.io/v1beta1", AVAILABLE),
        Health(HEALTHY, "Passed: all checks passed"),
    ),
    (
        "unavailable",
        api_service("apiregistration.k8s.io/v1", UNAVAILABLE),
        Health(PROGRESSING, "MissingEndpoints: none"),
    ),
    (
        "not processed yet",
        api_service("apiregistration.k8s.io/v1"),
        Health(PROGRESSING, "Waiting to be processed"),
    ),
]


def workflow(phase: str | None) -> dict[str, Any]:
    status = {} if phase is None else {"phase": phase, "message": f"is {phase}"}
    return obj("argoproj.io/v1alpha1", "Workflow", status=status)


WORKFLOW = [
    ("no phase", workflow(None), Health(PROGRESSING, "")),
    ("running", workflow("Running"), Health(PROGRESSING, "is Running")),
    ("pending", workflow("Pending"), Health(PROGRESSING, "is Pending")),
    ("succeeded", workflow("Succeeded"), Health(HEALTHY, "is Succeeded")),
    ("failed", workflow("Failed"), Health(DEGRADED, "is Failed")),
    ("error", workflow("Error"), Health(DEGRADED, "is Error")),
    ("a phase not listed", workflow("Skipped"), Health(UNKNOWN, "is Skipped")),
]


def _params(group: str, cases: list[tuple[str, dict[str, Any], Health]]) -> list[Any]:
    return [pytest.param(o, expected, id=f"{group}: {name}") for name, o, expected in cases]


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        *_params("Deployment", DEPLOYMENT),
        *_params("StatefulSet", STATEFUL_SET),
        *_params("ReplicaSet", REPLICA_SET),
        *_params("DaemonSet", DAEMON_SET),
        *_params("Pod", POD),
        *_params("network", NETWORK),
        *_params("PVC", PVC),
        *_params("Job", JOB),
        *_params("HPA", HPA),
        *_params("APIService", API_SERVICE),
        *_params("Workflow", WORKFLOW),
    ],
)
def test_built_in_check(resource: dict[str, Any], expected: Health, empty_scripts: Path) -> None:
    assert HealthChecks(empty_scripts).assess(resource) == expected


@pytest.mark.parametrize(
    ("resource", "prefix"),
    [
        pytest.param(
            deployment(spec={"replicas": "3"}),
            "failed to convert unstructured Deployment to typed: ",
            id="Deployment replicas as a string",
        ),
        pytest.param(
            pod(phase="Running", containerStatuses="none"),
            "failed to convert unstructured Pod to typed: ",
            id="Pod containerStatuses not a list",
        ),
        pytest.param(
            hpa_v1("[{not json"),
            "failed to convert conditions annotation to typed: ",
            id="HPA v1 annotation not JSON",
        ),
        pytest.param(
            hpa_v1('[{"type": 3}]'),
            "failed to convert conditions annotation to typed: ",
            id="HPA v1 annotation with a number for a string",
        ),
    ],
)
def test_an_object_the_go_check_cannot_read_is_unknown_with_the_error(
    resource: dict[str, Any], prefix: str, empty_scripts: Path
) -> None:
    health = HealthChecks(empty_scripts).assess(resource)
    assert health is not None
    assert health.status == UNKNOWN
    assert health.message.startswith(prefix)
    assert health.error == health.message


@pytest.mark.parametrize(
    "resource",
    [
        obj("v1", "ConfigMap", data={"a": "b"}),
        obj("v1", "Secret"),
        obj("v1", "ServiceAccount"),
        obj("v1", "Namespace"),
        obj("networking.k8s.io/v1", "NetworkPolicy"),
        obj("rbac.authorization.k8s.io/v1", "RoleBinding"),
        obj("argoproj.io/v1alpha1", "Application", status={"health": {"status": "Degraded"}}),
    ],
    ids=lambda o: o["kind"],
)
def test_kinds_without_a_check_have_no_health(
    resource: dict[str, Any], empty_scripts: Path
) -> None:
    assert HealthChecks(empty_scripts).assess(resource) is None
