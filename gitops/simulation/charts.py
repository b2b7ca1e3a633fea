"""The Helm charts the clusters install, reduced to what decides a first sync.

Argo CD renders a chart Application itself; this repository never does. So each chart is
modelled by the objects that matter, read from the chart at its pinned version with the
Application's values (the sources are named per chart below; nothing here is rendered by
Helm): its CustomResourceDefinitions, ServiceAccounts and Services; its workloads with the pod
settings admission and the kubelet judge (Pod Security, ServiceAccount, mounted Secrets,
storage); its hooks; and its admission webhooks with their failure policy. A workload that
runs a controller says what the cluster gains once one of its pods is ready (`provides`):
the resource metrics API, the External Secrets controller and webhook, the load balancer
controller, the Prometheus operator.

Sources (chart @ tag, path):
- metrics-server: kubernetes-sigs/metrics-server @ metrics-server-helm-chart-3.13.1,
  charts/metrics-server (Deployment, created ServiceAccount, APIService v1beta1.metrics.k8s.io;
  restricted-compliant container securityContext).
- kube-prometheus-stack: prometheus-community/helm-charts @ kube-prometheus-stack-88.5.3
  (CRDs from charts/crds/crds/, ten monitoring.coreos.com kinds; the PreSync Job
  admission-create writes Secret kube-prometheus-stack-admission, which the operator
  Deployment mounts (not optional); node-exporter's DaemonSet (prometheus-node-exporter
  4.56.1) uses hostNetwork, hostPID and hostPath volumes and so needs a namespace that
  enforces "privileged"; the operator's webhooks fail open (failurePolicy Ignore)), and
  prometheus-operator's StatefulSet for a Prometheus resource (pkg/prometheus/server; it
  refuses to create it while the storage spec names a StorageClass that does not exist,
  pkg/operator/storageclass.go).
- external-secrets: external-secrets/external-secrets @ helm-chart-2.9.0,
  deploy/charts/external-secrets (CRDs from templates/crds with installCRDs; controller,
  webhook and cert-controller Deployments; ValidatingWebhookConfigurations for ExternalSecret,
  SecretStore and ClusterSecretStore with failurePolicy Fail: every write of those kinds is
  refused until the webhook answers).
- aws-load-balancer-controller: kubernetes-sigs/aws-load-balancer-controller @ v3.5.0,
  helm/aws-load-balancer-controller (identical to aws/eks-charts v0.0.242): CRDs from crds/;
  the Deployment (2 replicas) runs as ServiceAccount aws-load-balancer-controller, which the
  chart does not create with `serviceAccount.create: false` (eksctl does); the mutating
  webhook mservice.elbv2.k8s.aws intercepts every Service CREATE and the validating webhook
  vingress.elbv2.k8s.aws every Ingress CREATE/UPDATE, both failurePolicy Fail: until a
  controller pod is ready no Service can be created anywhere (but the chart's own, exempt by
  label).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gitops.simulation.cluster import Cluster
from gitops.simulation.keys import Key, group_of, key_of
from gitops.simulation.workloads import NEEDS_ROLE, Workloads
from gitops.simulation.world import World
from gitops.tree.app_tree import App
from gitops.tree.findings import annotations_of, labels_of
from gitops.tree.repo_sources import app_sources

# Markers on the synthetic objects (never on a manifest of the tree).
PROVIDES = "simulation.ml-platform.example.com/provides"
WEBHOOK = "simulation.ml-platform.example.com/webhook"  # "<group>/<kind>:<operations>"
SERVED_BY = "simulation.ml-platform.example.com/served-by"  # the capability that answers
JOB_OUTPUT = "simulation.ml-platform.example.com/job-output"  # a Job's effect
HOOK = "argocd.argoproj.io/hook"


@dataclass(frozen=True)
class Workload:
    kind: str
    name: str
    service_account: str
    creates_service_account: bool = True
    provides: str = ""
    host_namespaces: bool = False  # hostNetwork + hostPID
    host_path: bool = False
    restricted: bool = True  # the containers' securityContext meets "restricted"
    replicas: int = 1
    secrets: tuple[str, ...] = ()  # Secrets the pod mounts (not optional)
    needs_role: bool = False  # calls AWS with its ServiceAccount's IRSA role
    hook: str = ""  # an Argo CD hook phase (from the chart's helm.sh/hook)
    writes: str = ""  # a Job that writes this Secret when it completes


@dataclass(frozen=True)
class Webhook:
    name: str
    intercepts: str  # "<group>/<Kind>:<CREATE,UPDATE,...>"
    served_by: str  # the capability whose pods answer it
    exempt_label: tuple[str, str] | None = None


@dataclass(frozen=True)
class Chart:
    crds: tuple[tuple[str, str, str], ...]  # (group, kind, scope)
    workloads: tuple[Workload, ...]
    services: tuple[tuple[str, str], ...] = ()  # (namespace or "" for the release's, name)
    service_accounts: tuple[str, ...] = ()  # created for pods the chart does not run itself
    webhooks: tuple[Webhook, ...] = ()  # failurePolicy Fail only (Ignore changes nothing)
    more_objects: Callable[[App], list[dict[str, Any]]] | None = None
    exempt_label: tuple[str, str] | None = None  # the label the chart's own objects carry


def _prometheus(app: App) -> list[dict[str, Any]]:
    values = (((app_sources(app.obj) or [{}])[0].get("helm") or {}).get("valuesObject")) or {}
    spec = ((values.get("prometheus") or {}).get("prometheusSpec")) or {}
    storage = copy.deepcopy(spec.get("storageSpec")) if spec.get("storageSpec") else None
    return [
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "Prometheus",
            "metadata": {"name": "kube-prometheus-stack-prometheus", "namespace": "monitoring"},
            "spec": {"serviceAccountName": "kube-prometheus-stack-prometheus", "storage": storage},
        }
    ]


_MONITORING_KINDS = (
    "Alertmanager",
    "AlertmanagerConfig",
    "PodMonitor",
    "Probe",
    "Prometheus",
    "PrometheusAgent",
    "PrometheusRule",
    "ScrapeConfig",
    "ServiceMonitor",
    "ThanosRuler",
)

CHARTS: dict[str, Chart] = {
    "metrics-server": Chart(
        crds=(),
        workloads=(
            Workload("Deployment", "metrics-server", "metrics-server", provides="metrics.k8s.io"),
        ),
        services=(("", "metrics-server"),),
    ),
    "kube-prometheus-stack": Chart(
        crds=tuple(("monitoring.coreos.com", k, "Namespaced") for k in _MONITORING_KINDS),
        workloads=(
            Workload(
                "Job",
                "kube-prometheus-stack-admission-create",
                "kube-prometheus-stack-admission",
                hook="PreSync",
                writes="kube-prometheus-stack-admission",
            ),
            Workload(
                "Deployment",
                "kube-prometheus-stack-operator",
                "kube-prometheus-stack-operator",
                provides="prometheus-operator",
                secrets=("kube-prometheus-stack-admission",),
            ),
            Workload(
                "Deployment", "kube-prometheus-stack-grafana", "kube-prometheus-stack-grafana"
            ),
            Workload(
                "Deployment",
                "kube-prometheus-stack-kube-state-metrics",
                "kube-prometheus-stack-kube-state-metrics",
            ),
            Workload(
                "DaemonSet",
                "kube-prometheus-stack-prometheus-node-exporter",
                "kube-prometheus-stack-prometheus-node-exporter",
                host_namespaces=True,
                host_path=True,
                restricted=False,
            ),
            Workload(
                "Job",
                "kube-prometheus-stack-admission-patch",
                "kube-prometheus-stack-admission",
                hook="PostSync",
            ),
        ),
        services=(
            ("", "kube-prometheus-stack-operator"),
            ("", "kube-prometheus-stack-prometheus"),
            ("", "kube-prometheus-stack-alertmanager"),
            ("", "kube-prometheus-stack-grafana"),
            ("", "kube-prometheus-stack-kube-state-metrics"),
            ("", "kube-prometheus-stack-prometheus-node-exporter"),
            ("kube-system", "kube-prometheus-stack-coredns"),
        ),
        # the operator's StatefulSets run as these (templates/prometheus/serviceaccount.yaml,
        # templates/alertmanager/serviceaccount.yaml)
        service_accounts=("kube-prometheus-stack-prometheus", "kube-prometheus-stack-alertmanager"),
        more_objects=_prometheus,
    ),
    "external-secrets": Chart(
        crds=(
            ("external-secrets.io", "ExternalSecret", "Namespaced"),
            ("external-secrets.io", "SecretStore", "Namespaced"),
            ("external-secrets.io", "ClusterSecretStore", "Cluster"),
            ("external-secrets.io", "ClusterExternalSecret", "Cluster"),
            ("external-secrets.io", "PushSecret", "Namespaced"),
            ("external-secrets.io", "ClusterPushSecret", "Cluster"),
        ),
        workloads=(
            Workload(
                "Deployment",
                "external-secrets",
                "external-secrets",
                provides="external-secrets",
                needs_role=True,
            ),
            Workload(
                "Deployment",
                "external-secrets-webhook",
                "external-secrets-webhook",
                provides="external-secrets-webhook",
            ),
            Workload(
                "Deployment", "external-secrets-cert-controller", "external-secrets-cert-controller"
            ),
        ),
        services=(("", "external-secrets-webhook"),),
        webhooks=(
            Webhook(
                "validate.externalsecret.external-secrets.io",
                "external-secrets.io/ExternalSecret:CREATE,UPDATE,DELETE",
                "external-secrets-webhook",
            ),
            Webhook(
                "validate.secretstore.external-secrets.io",
                "external-secrets.io/SecretStore:CREATE,UPDATE,DELETE",
                "external-secrets-webhook",
            ),
            Webhook(
                "validate.clustersecretstore.external-secrets.io",
                "external-secrets.io/ClusterSecretStore:CREATE,UPDATE,DELETE",
                "external-secrets-webhook",
            ),
        ),
    ),
    "aws-load-balancer-controller": Chart(
        crds=(
            ("elbv2.k8s.aws", "IngressClassParams", "Cluster"),
            ("elbv2.k8s.aws", "TargetGroupBinding", "Namespaced"),
            ("elbv2.k8s.aws", "ALBTargetControlConfig", "Namespaced"),
        ),
        workloads=(
            Workload(
                "Deployment",
                "aws-load-balancer-controller",
                "aws-load-balancer-controller",
                creates_service_account=False,
                provides="aws-load-balancer-controller",
                restricted=False,
                replicas=2,
                secrets=("aws-load-balancer-tls",),
                needs_role=True,
            ),
        ),
        services=(("", "aws-load-balancer-webhook-service"),),
        webhooks=(
            Webhook(
                "mservice.elbv2.k8s.aws",
                "/Service:CREATE",
                "aws-load-balancer-controller",
                exempt_label=("app.kubernetes.io/name", "aws-load-balancer-controller"),
            ),
            Webhook(
                "vingress.elbv2.k8s.aws",
                "networking.k8s.io/Ingress:CREATE,UPDATE",
                "aws-load-balancer-controller",
            ),
        ),
        exempt_label=("app.kubernetes.io/name", "aws-load-balancer-controller"),
    ),
}


def chart_of(app: App) -> str:
    source = next((s for s in app_sources(app.obj) if "chart" in s), {})
    return str(source.get("chart", ""))


def objects(app: App, world: World) -> list[dict[str, Any]] | str:
    name = chart_of(app)
    chart = CHARTS.get(name)
    if chart is None:
        return f"chart {name} is not modelled (gitops/simulation/charts.py)"
    namespace = app.destination_namespace
    labels = dict([chart.exempt_label]) if chart.exempt_label else {}
    out: list[dict[str, Any]] = []
    for group, kind, scope in chart.crds:
        plural = kind.lower() + "s"
        out.append(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{plural}.{group}"},
                "spec": {"group": group, "names": {"kind": kind, "plural": plural}, "scope": scope},
            }
        )
    for workload in chart.workloads:
        if workload.creates_service_account:
            account = {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": workload.service_account, "namespace": namespace},
            }
            if workload.hook:
                account["metadata"]["annotations"] = {HOOK: "PreSync"}
            out.append(account)
        out.append(_workload(workload, namespace))
        for secret in workload.secrets:
            if not any(w.writes == secret for w in chart.workloads):
                out.append(
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "type": "kubernetes.io/tls",
                        "metadata": {"name": secret, "namespace": namespace, "labels": labels},
                        "stringData": {"tls.crt": "generated", "tls.key": "generated"},
                    }
                )
    for account in chart.service_accounts:
        out.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": account, "namespace": namespace},
            }
        )
    for service_namespace, service in chart.services:
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": service,
                    "namespace": service_namespace or namespace,
                    "labels": labels,
                },
                "spec": {"ports": [{"port": 443}]},
            }
        )
    for webhook in chart.webhooks:
        out.append(
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": {
                    "name": webhook.name,
                    "annotations": {WEBHOOK: webhook.intercepts, SERVED_BY: webhook.served_by},
                    "labels": labels,
                },
            }
        )
    if chart.more_objects is not None:
        out += chart.more_objects(app)
    return out


def _workload(workload: Workload, namespace: str) -> dict[str, Any]:
    container: dict[str, Any] = {"name": workload.name, "image": f"chart/{workload.name}:pinned"}
    pod: dict[str, Any] = {
        "serviceAccountName": workload.service_account,
        "containers": [container],
    }
    if workload.restricted:
        pod["securityContext"] = {
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        container["securityContext"] = {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        }
    if workload.host_namespaces:
        pod |= {"hostNetwork": True, "hostPID": True}
    volumes = [{"name": s, "secret": {"secretName": s}} for s in workload.secrets]
    if workload.host_path:
        volumes.append({"name": "root", "hostPath": {"path": "/"}})
    if volumes:
        pod["volumes"] = volumes
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app.kubernetes.io/name": workload.name}},
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": workload.name}},
            "spec": pod,
        },
    }
    if workload.kind in ("Deployment", "StatefulSet"):
        spec["replicas"] = workload.replicas
    annotations = {}
    if workload.provides:
        annotations[PROVIDES] = workload.provides
    if workload.needs_role:
        annotations[NEEDS_ROLE] = f"{namespace}/{workload.service_account}"
    if workload.hook:
        annotations[HOOK] = workload.hook
    if workload.writes:
        annotations[JOB_OUTPUT] = workload.writes
    group = "batch" if workload.kind == "Job" else "apps"
    return {
        "apiVersion": f"{group}/v1",
        "kind": workload.kind,
        "metadata": {"name": workload.name, "namespace": namespace, "annotations": annotations},
        "spec": spec,
    }


def capabilities(cluster: Cluster, state: Workloads) -> set[str]:
    """What the running add-ons serve: each workload that provides something and has a
    ready pod."""
    out = set()
    for key, pods in state.pods.items():
        if pods.ready:
            live = cluster.get(key)
            provided = annotations_of(live).get(PROVIDES) if live else None
            if provided:
                out.add(provided)
    return out


def webhook_refusal(
    cluster: Cluster, capabilities: set[str], obj: dict[str, Any], operation: str
) -> str:
    """Why a failing-closed webhook refuses a write ("" when none does)."""
    group, kind = group_of(obj), str(obj.get("kind"))
    for config in cluster.of_kind("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"):
        annotations = annotations_of(config)
        intercepts = annotations.get(WEBHOOK, "")
        if not intercepts:
            continue
        target, _, operations = intercepts.partition(":")
        if target != f"{group}/{kind}" or operation not in operations.split(","):
            continue
        exempt = labels_of(config)
        if exempt and all(labels_of(obj).get(k) == v for k, v in exempt.items()):
            continue
        served_by = annotations.get(SERVED_BY, "")
        if served_by not in capabilities:
            name = (config.get("metadata") or {}).get("name")
            return (
                f'Internal error occurred: failed calling webhook "{name}": no endpoints '
                f"available for the webhook service (its pods are not ready)"
            )
    return ""


def job_effects(cluster: Cluster, state: Workloads) -> None:
    """A chart Job that completed has written its Secret (kube-webhook-certgen create)."""
    for job in cluster.of_kind("batch", "Job"):
        secret = annotations_of(job).get(JOB_OUTPUT)
        pods = state.pods.get(key_of(job))
        if secret and pods and pods.ready:
            namespace = key_of(job).namespace
            key = Key("", "Secret", namespace, secret)
            if key not in cluster.objects:
                cluster.objects[key] = {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": secret, "namespace": namespace},
                    "stringData": {"ca": "generated", "cert": "generated", "key": "generated"},
                }


@dataclass
class Operators:
    """prometheus-operator: each Prometheus resource becomes a StatefulSet (and its claim)."""

    refused: dict[Key, str] = field(default_factory=dict)

    def reconcile(self, cluster: Cluster, state: Workloads, capabilities: set[str]) -> None:
        if "prometheus-operator" not in capabilities:
            return
        for prometheus in cluster.of_kind("monitoring.coreos.com", "Prometheus"):
            self._one(cluster, state, prometheus)

    def _one(self, cluster: Cluster, state: Workloads, prometheus: dict[str, Any]) -> None:
        meta = prometheus.get("metadata") or {}
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        statefulset = f"prometheus-{name}"
        key = Key("apps", "StatefulSet", namespace, statefulset)
        spec = prometheus.get("spec") or {}
        claim_template = (spec.get("storage") or {}).get("volumeClaimTemplate")
        if claim_template:
            wanted = (claim_template.get("spec") or {}).get("storageClassName")
            classes = {
                str((c.get("metadata") or {}).get("name"))
                for c in cluster.of_kind("storage.k8s.io", "StorageClass")
            }
            if wanted and wanted not in classes:
                # After every reconcile, failed or not, the status reporter writes Available
                # from the StatefulSet, which does not exist (pkg/operator/resource_reconciler.go
                # processNextReconcileItem; pkg/prometheus/operator.go StatusReporter.Process):
                # Argo CD's Prometheus check reads Available, so the resource is Degraded.
                refusal = f'storage class "{wanted}" does not exist'
                prometheus["status"] = {
                    "conditions": [
                        {
                            "type": "Available",
                            "status": "False",
                            "reason": "StatefulSetNotFound",
                            "message": f"shard 0: statefulset {namespace}/{statefulset} not found",
                        },
                        {
                            "type": "Reconciled",
                            "status": "False",
                            "reason": "ReconciliationFailed",
                            "message": refusal,
                        },
                    ]
                }
                prometheus["_problem"] = refusal  # the cause, for the explanation
                return
        pod: dict[str, Any] = {
            "serviceAccountName": str(spec.get("serviceAccountName") or "default"),
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "prometheus",
                    "image": "prometheus:pinned",
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        }
        if claim_template:
            claim = f"prometheus-{name}-db-{statefulset}-0"
            pod["volumes"] = [{"name": "db", "persistentVolumeClaim": {"claimName": claim}}]
            claim_key = Key("", "PersistentVolumeClaim", namespace, claim)
            if claim_key not in cluster.objects:
                cluster.objects[claim_key] = {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": claim, "namespace": namespace},
                    "spec": copy.deepcopy(claim_template.get("spec") or {}),
                }
        if key not in cluster.objects:
            cluster.objects[key] = {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": statefulset, "namespace": namespace},
                "spec": {
                    "replicas": 1,
                    "template": {
                        "metadata": {"labels": {"app.kubernetes.io/name": "prometheus"}},
                        "spec": pod,
                    },
                },
            }
        prometheus.pop("_problem", None)
        pods = state.pods.get(key)
        ready = bool(pods and pods.ready)
        prometheus["status"] = {
            "conditions": [
                {
                    "type": "Available",
                    "status": "True" if ready else "False",
                    "reason": "" if ready else "NoPodReady",
                    "message": "" if ready else (pods.problem if pods else "no pod created yet"),
                },
                {"type": "Reconciled", "status": "True"},
            ]
        }
