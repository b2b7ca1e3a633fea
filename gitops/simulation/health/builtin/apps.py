"""The built-in checks of apps/v1 workloads, ported from gitops-engine/pkg/health at
argoproj/argo-cd v3.5.1: health_deployment.go, health_statefulset.go, health_replicaset.go,
health_daemonset.go (themselves after kubectl's rollout status)."""

from __future__ import annotations

from gitops.simulation.health.builtin.typed import Typed, converted
from gitops.simulation.health.status import Health, HealthStatus
from gitops.simulation.health.unstructured import go_quote


def _condition(status: Typed, condition_type: str) -> Typed | None:
    """The first status condition of a type (getAppsv1DeploymentCondition and the like)."""
    return next((c for c in status.items("conditions") if c.text("type") == condition_type), None)


@converted("Deployment", "apps/v1")
def deployment(deploy: Typed, _version: str) -> Health:
    """health_deployment.go getAppsv1DeploymentHealth."""
    spec, status = deploy.child("spec"), deploy.child("status")
    name = deploy.child("metadata").text("name")
    generation = deploy.child("metadata").number("generation")
    observed = status.number("observedGeneration")
    wanted = spec.optional_number("replicas")
    replicas, updated = status.number("replicas"), status.number("updatedReplicas")
    available = status.number("availableReplicas")
    progressing = _condition(status, "Progressing")
    reason = progressing.text("reason") if progressing else ""
    if spec.flag("paused"):
        return Health(HealthStatus.SUSPENDED, "Deployment is paused")
    if generation > observed:
        return Health(
            HealthStatus.PROGRESSING,
            "Waiting for rollout to finish: observed deployment generation less than desired "
            "generation",
        )
    if reason == "ProgressDeadlineExceeded":
        return Health(
            HealthStatus.DEGRADED, f"Deployment {go_quote(name)} exceeded its progress deadline"
        )
    if wanted is not None and updated < wanted:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {updated} out of {wanted} new replicas have been "
            "updated...",
        )
    if replicas > updated:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {replicas - updated} old replicas are pending "
            "termination...",
        )
    if available < updated:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {available} of {updated} updated replicas are "
            "available...",
        )
    return Health(HealthStatus.HEALTHY)


@converted("StatefulSet", "apps/v1")
def stateful_set(sts: Typed, _version: str) -> Health:
    """health_statefulset.go getAppsv1StatefulSetHealth."""
    spec, status = sts.child("spec"), sts.child("status")
    generation = sts.child("metadata").number("generation")
    observed = status.number("observedGeneration")
    wanted = spec.optional_number("replicas")
    ready, updated = status.number("readyReplicas"), status.number("updatedReplicas")
    current = status.number("currentReplicas")
    update_revision, current_revision = (
        status.text("updateRevision"),
        status.text("currentRevision"),
    )
    strategy = spec.child("updateStrategy")
    rolling = strategy.optional_child("rollingUpdate")
    partition = rolling.optional_number("partition") if rolling else None
    if observed == 0 or generation > observed:
        return Health(
            HealthStatus.PROGRESSING, "Waiting for statefulset spec update to be observed..."
        )
    if wanted is not None and ready < wanted:
        return Health(HealthStatus.PROGRESSING, f"Waiting for {wanted - ready} pods to be ready...")
    if strategy.text("type") == "RollingUpdate" and rolling is not None:
        if wanted is not None and partition is not None and updated < wanted - partition:
            return Health(
                HealthStatus.PROGRESSING,
                f"Waiting for partitioned roll out to finish: {updated} out of "
                f"{wanted - partition} new pods have been updated...",
            )
        return Health(
            HealthStatus.HEALTHY,
            f"partitioned roll out complete: {updated} new pods have been updated...",
        )
    if strategy.text("type") == "OnDelete":
        return Health(HealthStatus.HEALTHY, f"statefulset has {ready} ready pods")
    if update_revision != current_revision:
        return Health(
            HealthStatus.PROGRESSING,
            f"waiting for statefulset rolling update to complete {updated} pods at revision "
            f"{update_revision}...",
        )
    return Health(
        HealthStatus.HEALTHY,
        f"statefulset rolling update complete {current} pods at revision {current_revision}...",
    )


@converted("ReplicaSet", "apps/v1")
def replica_set(rs: Typed, _version: str) -> Health:
    """health_replicaset.go getAppsv1ReplicaSetHealth."""
    status = rs.child("status")
    generation = rs.child("metadata").number("generation")
    observed = status.number("observedGeneration")
    wanted = rs.child("spec").optional_number("replicas")
    available = status.number("availableReplicas")
    failure = _condition(status, "ReplicaFailure")
    failure_true = failure is not None and failure.text("status") == "True"
    failure_message = failure.text("message") if failure else ""
    if generation > observed:
        return Health(
            HealthStatus.PROGRESSING,
            "Waiting for rollout to finish: observed replica set generation less than desired "
            "generation",
        )
    if failure_true:
        return Health(HealthStatus.DEGRADED, failure_message)
    if wanted is not None and available < wanted:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {available} out of {wanted} new replicas are "
            "available...",
        )
    return Health(HealthStatus.HEALTHY)


@converted("DaemonSet", "apps/v1")
def daemon_set(ds: Typed, _version: str) -> Health:
    """health_daemonset.go getAppsv1DaemonSetHealth."""
    status = ds.child("status")
    name = go_quote(ds.child("metadata").text("name"))
    generation = ds.child("metadata").number("generation")
    observed = status.number("observedGeneration")
    strategy = ds.child("spec").child("updateStrategy").text("type")
    updated = status.number("updatedNumberScheduled")
    desired = status.number("desiredNumberScheduled")
    available = status.number("numberAvailable")
    if generation > observed:
        return Health(
            HealthStatus.PROGRESSING,
            "Waiting for rollout to finish: observed daemon set generation less than desired "
            "generation",
        )
    if strategy == "OnDelete":
        return Health(
            HealthStatus.HEALTHY,
            f"daemon set {updated} out of {desired} new pods have been updated",
        )
    if updated < desired:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for daemon set {name} rollout to finish: {updated} out of {desired} new "
            "pods have been updated...",
        )
    if available < desired:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for daemon set {name} rollout to finish: {available} of {desired} updated "
            "pods are available...",
        )
    return Health(HealthStatus.HEALTHY)
