"""Argo CD's built-in health checks, written in Go in gitops-engine/pkg/health at
argoproj/argo-cd v3.5.1, ported to Python: one module per Go file, and the dispatch of
health.go's GetHealthCheckFunc (by group and kind; each check then accepts only the versions
it converts)."""

from __future__ import annotations

from collections.abc import Callable

from gitops.simulation.health.builtin import (
    apiservice,
    apps,
    autoscaling,
    batch,
    network,
    pod,
    pvc,
    workflow,
)
from gitops.simulation.health.builtin.typed import BuiltinError
from gitops.simulation.health.status import Health
from gitops.simulation.health.unstructured import JsonObject

BuiltinCheck = Callable[[JsonObject], Health]

# GetHealthCheckFunc's switch, (group, kind) -> check.
_CHECKS: dict[tuple[str, str], BuiltinCheck] = {
    ("apps", "Deployment"): apps.deployment,
    ("apps", "StatefulSet"): apps.stateful_set,
    ("apps", "ReplicaSet"): apps.replica_set,
    ("apps", "DaemonSet"): apps.daemon_set,
    ("extensions", "Ingress"): network.ingress,
    ("networking.k8s.io", "Ingress"): network.ingress,
    ("argoproj.io", "Workflow"): workflow.workflow,
    ("apiregistration.k8s.io", "APIService"): apiservice.api_service,
    ("", "Service"): network.service,
    ("", "PersistentVolumeClaim"): pvc.persistent_volume_claim,
    ("", "Pod"): pod.pod,
    ("batch", "Job"): batch.job,
    ("autoscaling", "HorizontalPodAutoscaler"): autoscaling.horizontal_pod_autoscaler,
}


def builtin_check(group: str, kind: str) -> BuiltinCheck | None:
    """The built-in check of a kind, or None: Argo CD then has no health for it (ConfigMap,
    Secret, ServiceAccount, an Application without the argocd-cm check, ...)."""
    return _CHECKS.get((group, kind))


__all__ = ["BuiltinCheck", "BuiltinError", "builtin_check"]
