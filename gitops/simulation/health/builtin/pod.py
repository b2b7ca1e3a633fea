"""The built-in Pod check, ported from gitops-engine/pkg/health/health_pod.go at
argoproj/argo-cd v3.5.1 (with k8s.io/kubectl's podutils.IsPodReady: the first Ready condition
is "True")."""

from __future__ import annotations

from gitops.simulation.health.builtin.typed import Typed, converted
from gitops.simulation.health.status import Health, HealthStatus
from gitops.simulation.health.unstructured import go_quote


def _waiting_on_error(reason: str) -> bool:
    """A waiting reason health_pod.go counts as a failure (CrashLoopBackOff, ErrImagePull,
    ImagePullBackOff, CreateContainerConfigError, ...)."""
    return reason.startswith("Err") or reason.endswith("Error") or reason.endswith("BackOff")


def _fail_message(container: Typed) -> str:
    """health_pod.go getFailMessage: why a terminated container failed."""
    terminated = container.child("state").optional_child("terminated")
    if terminated is None:
        return ""
    if terminated.text("message"):
        return terminated.text("message")
    if terminated.text("reason") == "OOMKilled":
        return "OOMKilled"
    if terminated.number("exitCode") != 0:
        name = go_quote(container.text("name"))
        return f"container {name} failed with exit code {terminated.number('exitCode')}"
    return ""


@converted("Pod", "v1")
def pod(obj: Typed, _version: str) -> Health:
    """health_pod.go getCorev1PodHealth."""
    restart_policy = obj.child("spec").text("restartPolicy")
    status = obj.child("status")
    phase, message = status.text("phase"), status.text("message")
    containers = status.items("containerStatuses")
    init_containers = status.items("initContainerStatuses")
    # Only for restartPolicy Always: a hook pod (OnFailure, Never) that waits on an image must
    # not fail its hook before the image exists (health_pod.go's comment).
    if restart_policy == "Always":
        waiting = [c.child("state").optional_child("waiting") for c in containers]
        failing = [w for w in waiting if w is not None and _waiting_on_error(w.text("reason"))]
        if failing:
            return Health(HealthStatus.DEGRADED, ", ".join(w.text("message") for w in failing))
    if phase == "Pending":
        return Health(HealthStatus.PROGRESSING, message)
    if phase == "Succeeded":
        return Health(HealthStatus.HEALTHY, message)
    if phase == "Failed":
        if message:
            return Health(HealthStatus.DEGRADED, message)
        reasons = (_fail_message(c) for c in [*init_containers, *containers])
        return Health(HealthStatus.DEGRADED, next((r for r in reasons if r), ""))
    if phase == "Running":
        if restart_policy == "Always":
            ready = next((c for c in status.items("conditions") if c.text("type") == "Ready"), None)
            if ready is not None and ready.text("status") == "True":
                return Health(HealthStatus.HEALTHY, message)
            last_states = (c.child("lastState") for c in containers)
            if any(s.optional_child("terminated") is not None for s in last_states):
                return Health(HealthStatus.DEGRADED, message)
            return Health(HealthStatus.PROGRESSING, message)
        if restart_policy in ("OnFailure", "Never"):
            # Finite pods are usually hooks: Progressing, not Healthy, while they run.
            return Health(HealthStatus.PROGRESSING, message)
    return Health(HealthStatus.UNKNOWN, message)
