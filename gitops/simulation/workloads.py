"""The workload controllers: Deployments, StatefulSets and Jobs create pods, and report what
became of them in the status fields Argo CD's health checks read; the HorizontalPodAutoscaler
and PersistentVolumeClaims likewise.

Modelled from kubernetes/kubernetes (pkg/controller/deployment, statefulset, job,
podautoscaler; the documented status fields at kubernetes.io/docs/concepts/workloads/):
- a Deployment runs `spec.replicas` pods (1 when unset); a HorizontalPodAutoscaler raises a
  count below its minReplicas to minReplicas before it has any metric (horizontal.go,
  "Current number of replicas below Spec.MinReplicas");
- pods the API server refuses are never created: the ReplicaSet reports FailedCreate (the
  Deployment's ReplicaFailure condition), and the Deployment stays Progressing until
  `progressDeadlineSeconds` (default 600) pass, then reports ProgressDeadlineExceeded;
- a StatefulSet has no deadline: it waits for its pods for ever;
- a Job completes once its pod runs to the end; a pod that starts but cannot do its work
  fails until `backoffLimit` is spent (the Job reports Failed); a pod that cannot be created
  or started leaves the Job running for ever;
- an HPA reports ScalingActive=False/FailedGetResourceMetric while no metrics API serves the
  pods' usage or no pod of its target is ready, else AbleToScale=True;
- a PersistentVolumeClaim binds when its StorageClass (or the default one) exists; with
  WaitForFirstConsumer only once a pod that mounts it is scheduled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from gitops.simulation.cluster import Cluster
from gitops.simulation.keys import Key, key_of
from gitops.simulation.pods import admission_problem, start_problem
from gitops.simulation.readiness import not_ready_reason
from gitops.simulation.world import World
from gitops.tree.findings import labels_of, name_of
from gitops.tree.selectors import matches, pod_template

DEFAULT_PROGRESS_DEADLINE = 600
# A workload whose program calls AWS with its ServiceAccount's IRSA role ("namespace/name");
# set on the chart models' controllers (charts.py).
NEEDS_ROLE = "simulation.ml-platform.example.com/needs-role"
POD_WORKLOADS = (
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("batch", "Job"),
)
METRICS_API = "metrics.k8s.io"


@dataclass
class Pods:
    """What became of one workload's pods in the last reconcile."""

    wanted: int
    admitted: int = 0
    started: int = 0
    ready: int = 0
    problem: str = ""  # the first reason a pod is not admitted, started or ready


@dataclass
class Workloads:
    """The controllers' shared state between reconciles."""

    pods: dict[Key, Pods] = field(default_factory=dict)
    # workloads whose deadline passed while they were not done (set by the engine)
    expired: set[Key] = field(default_factory=set)
    # claims a pod that mounts them was scheduled for
    consumers: set[Key] = field(default_factory=set)


def desired_replicas(cluster: Cluster, workload: dict[str, Any]) -> int:
    key = key_of(workload)
    replicas = int((workload.get("spec") or {}).get("replicas", 1))
    for hpa in cluster.of_kind("autoscaling", "HorizontalPodAutoscaler", key.namespace):
        target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if target.get("kind") == key.kind and target.get("name") == key.name:
            spec = hpa.get("spec") or {}
            replicas = max(replicas, int(spec.get("minReplicas", 1)))
            replicas = min(replicas, int(spec.get("maxReplicas", replicas)))
    return replicas


def reconcile(cluster: Cluster, world: World, state: Workloads, capabilities: set[str]) -> None:
    """One pass of every controller over the live objects; `capabilities`: what the running
    add-ons serve (charts.py), e.g. the resource metrics API."""
    for claim in list(cluster.of_kind("", "PersistentVolumeClaim")):
        _claim(cluster, world, state, claim)
    used: dict[str, dict[str, Fraction]] = {}
    ready_cache: dict[tuple[str, str], bool] = {}

    def ready_workload(namespace: str, name: str) -> bool:
        if (namespace, name) not in ready_cache:
            ready_cache[(namespace, name)] = any(
                p.ready > 0
                for k, p in state.pods.items()
                if k.namespace == namespace
                and k.kind in ("Deployment", "StatefulSet")
                and _app_name(cluster.get(k)) == name
            )
        return ready_cache[(namespace, name)]

    for group, kind in POD_WORKLOADS:
        for workload in sorted(cluster.of_kind(group, kind), key=lambda o: str(key_of(o))):
            namespace = key_of(workload).namespace
            pods = _run_pods(
                cluster, world, state, workload, used.setdefault(namespace, {}), ready_workload
            )
            state.pods[key_of(workload)] = pods
            _write_status(workload, pods, key_of(workload) in state.expired)
    for hpa in cluster.of_kind("autoscaling", "HorizontalPodAutoscaler"):
        _hpa(cluster, world, state, hpa, capabilities)
    for budget in cluster.of_kind("policy", "PodDisruptionBudget"):
        _disruption_budget(cluster, state, budget)


def _app_name(obj: dict[str, Any] | None) -> str:
    template = pod_template(obj) if obj else None
    return labels_of(template or {}).get("app.kubernetes.io/name", "") if template else ""


def _run_pods(
    cluster: Cluster,
    world: World,
    state: Workloads,
    workload: dict[str, Any],
    used: dict[str, Fraction],
    ready_workload: Callable[[str, str], bool],
) -> Pods:
    key = key_of(workload)
    template = pod_template(workload) or {}
    spec = template.get("spec") or {}
    # A Job runs one pod at a time here; a DaemonSet is modelled on one node (its pods are
    # identical, so one stands for all).
    wanted = 1 if key.kind in ("Job", "DaemonSet") else desired_replicas(cluster, workload)
    pods = Pods(wanted)
    for _ in range(wanted):
        problem = admission_problem(spec, key.namespace, cluster, used)
        if problem:
            pods.problem = pods.problem or f"pods refused: {problem}"
            break
        pods.admitted += 1
        for volume in spec.get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                state.consumers.add(Key("", "PersistentVolumeClaim", key.namespace, claim))
        problem = start_problem(spec, key.namespace, cluster, world) or _role(workload, world)
        if problem:
            pods.problem = pods.problem or f"pod not started: {problem}"
            continue
        pods.started += 1
        reasons = [
            not_ready_reason(c, key.namespace, cluster, world, ready_workload, spec)
            for c in spec.get("containers") or []
        ]
        reason = next((r for r in reasons if r), "")
        if reason:
            pods.problem = pods.problem or f"pod not ready: {reason}"
            continue
        pods.ready += 1
    return pods


def _role(workload: dict[str, Any], world: World) -> str:
    account = ((workload.get("metadata") or {}).get("annotations") or {}).get(NEEDS_ROLE)
    if account and account not in world.cloud.roles:
        return (
            f"CrashLoopBackOff: the controller cannot call AWS: no IAM role for its "
            f"ServiceAccount {account} (IRSA: eksctl's iam.serviceAccounts)"
        )
    return ""


def _write_status(workload: dict[str, Any], pods: Pods, expired: bool) -> None:
    kind = workload.get("kind")
    generation = int((workload.get("metadata") or {}).get("generation", 1))
    workload.setdefault("metadata", {})["generation"] = generation
    spec = workload.setdefault("spec", {})
    if kind == "Job":
        workload["status"] = _job_status(pods, expired)
        return
    spec["replicas"] = pods.wanted
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "replicas": pods.admitted,
        "updatedReplicas": pods.admitted,
        "readyReplicas": pods.ready,
        "availableReplicas": pods.ready,
    }
    if kind == "DaemonSet":
        workload["status"] = {
            "observedGeneration": generation,
            "desiredNumberScheduled": pods.wanted,
            "currentNumberScheduled": pods.admitted,
            "updatedNumberScheduled": pods.admitted,
            "numberReady": pods.ready,
            "numberAvailable": pods.ready,
        }
        return
    if kind == "StatefulSet":
        status |= {
            "currentReplicas": pods.admitted,
            "currentRevision": "r1",
            "updateRevision": "r1",
        }
        workload["status"] = status
        return
    conditions = []
    done = pods.ready >= pods.wanted
    conditions.append(
        {
            "type": "Available",
            "status": "True" if done else "False",
            "reason": "MinimumReplicasAvailable" if done else "MinimumReplicasUnavailable",
            "message": pods.problem,
        }
    )
    if done:
        progressing = {
            "status": "True",
            "reason": "NewReplicaSetAvailable",
            "message": f'ReplicaSet "{name_of(workload)}" has successfully progressed.',
        }
    elif expired:
        progressing = {
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": f'ReplicaSet "{name_of(workload)}" has timed out progressing: '
            f"{pods.problem}",
        }
    else:
        progressing = {"status": "True", "reason": "ReplicaSetUpdated", "message": pods.problem}
    conditions.append({"type": "Progressing", **progressing})
    if pods.admitted < pods.wanted:
        conditions.append(
            {
                "type": "ReplicaFailure",
                "status": "True",
                "reason": "FailedCreate",
                "message": pods.problem,
            }
        )
    status["conditions"] = conditions
    workload["status"] = status


def _job_status(pods: Pods, expired: bool) -> dict[str, Any]:
    if pods.ready:
        return {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
    if pods.started and expired:
        return {
            "failed": 1,
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": pods.problem,
                }
            ],
        }
    return {"active": 1 if pods.admitted else 0}


def not_done(cluster: Cluster, state: Workloads) -> list[Key]:
    """Workloads still waiting: what a deadline can expire."""
    out = []
    for key, pods in state.pods.items():
        if key.kind in ("Deployment", "Job") and pods.ready < pods.wanted:
            out.append(key)
    return out


def _disruption_budget(cluster: Cluster, state: Workloads, budget: dict[str, Any]) -> None:
    """The disruption controller (pkg/controller/disruption): DisruptionAllowed is False with
    reason InsufficientPods while fewer pods are healthy than the budget needs."""
    namespace = key_of(budget).namespace
    selector = (budget.get("spec") or {}).get("selector")
    healthy = sum(
        state.pods[k].ready for k in selected(cluster, namespace, selector or {}) if k in state.pods
    )
    spec = budget.get("spec") or {}
    need = (
        int(str(spec.get("minAvailable", 1)))
        if "minAvailable" in spec and not str(spec.get("minAvailable")).endswith("%")
        else 1
    )
    allowed = healthy > need
    budget["status"] = {
        "currentHealthy": healthy,
        "desiredHealthy": need,
        "conditions": [
            {
                "type": "DisruptionAllowed",
                "status": "True" if allowed else "False",
                "reason": "SufficientPods" if allowed else "InsufficientPods",
            }
        ],
    }


def _claim(cluster: Cluster, world: World, state: Workloads, claim: dict[str, Any]) -> None:
    key = key_of(claim)
    wanted = (claim.get("spec") or {}).get("storageClassName")
    classes = {name_of(c): c for c in cluster.of_kind("storage.k8s.io", "StorageClass")}
    available = {n: bool(d) for n, d in world.storage_classes.items()}
    for name, storage_class in classes.items():
        annotations = (storage_class.get("metadata") or {}).get("annotations") or {}
        available[name] = annotations.get("storageclass.kubernetes.io/is-default-class") == "true"
    if wanted is None:
        wanted = next((n for n, default in sorted(available.items()) if default), None)
    if wanted is None or wanted not in available:
        claim["status"] = {"phase": "Pending"}
        claim["_problem"] = f"no StorageClass {wanted!r}" if wanted else "no default StorageClass"
        return
    binding = (classes.get(wanted) or {}).get("volumeBindingMode", "Immediate")
    if binding == "WaitForFirstConsumer" and key not in state.consumers:
        claim["status"] = {"phase": "Pending"}
        claim["_problem"] = "waiting for first consumer to be created before binding"
        return
    claim["status"] = {"phase": "Bound"}
    claim.pop("_problem", None)


def _hpa(
    cluster: Cluster, world: World, state: Workloads, hpa: dict[str, Any], capabilities: set[str]
) -> None:
    key = key_of(hpa)
    target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
    target_key = Key(
        str(target.get("apiVersion", "apps/v1")).rpartition("/")[0],
        str(target.get("kind")),
        key.namespace,
        str(target.get("name")),
    )
    pods = state.pods.get(target_key)
    workload = cluster.get(target_key)
    if workload is None:
        conditions = [
            {
                "type": "AbleToScale",
                "status": "False",
                "reason": "FailedGetScale",
                "message": f"the HPA controller was unable to get the target's current "
                f"scale: {target_key} not found",
            }
        ]
    elif not (world.metrics_api or METRICS_API in capabilities):
        conditions = [
            {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"},
            {
                "type": "ScalingActive",
                "status": "False",
                "reason": "FailedGetResourceMetric",
                "message": "the HPA was unable to compute the replica count: unable to get "
                "metrics for resource cpu: no metrics API (metrics.k8s.io) is served",
            },
        ]
    elif pods is None or pods.ready == 0:
        conditions = [
            {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"},
            {
                "type": "ScalingActive",
                "status": "False",
                "reason": "FailedGetResourceMetric",
                "message": "the HPA was unable to compute the replica count: did not receive "
                "metrics for targeted pods (pods might be unready)",
            },
        ]
    else:
        conditions = [
            {
                "type": "AbleToScale",
                "status": "True",
                "reason": "ReadyForNewScale",
                "message": "recommended size matches current size",
            },
            {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"},
        ]
    hpa["status"] = {"conditions": conditions}


def selected(cluster: Cluster, namespace: str, selector: dict[str, Any]) -> list[Key]:
    """The pod workloads whose pod template labels `selector` matches."""
    return [
        key_of(w)
        for group, kind in POD_WORKLOADS
        for w in cluster.of_kind(group, kind, namespace)
        if matches(selector, labels_of(pod_template(w) or {}))
    ]
