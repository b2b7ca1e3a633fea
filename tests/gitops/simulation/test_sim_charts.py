"""The chart models (gitops/simulation/charts.py): admission webhooks that fail closed until the
pods that serve them are ready (external-secrets @ helm-chart-2.9.0 and
aws-load-balancer-controller @ v3.5.0, both failurePolicy Fail), the capabilities a ready
controller brings, a hook Job's output, and prometheus-operator's refusal of a storage spec
whose StorageClass does not exist (prometheus-operator v0.93.0, pkg/operator/storageclass.go;
the status it then reports, pkg/prometheus/operator.go StatusReporter.Process)."""

from __future__ import annotations

from typing import Any

import pytest

from gitops.simulation import charts, workloads
from gitops.simulation.engine import Simulation
from gitops.simulation.explain import resource_reason
from gitops.simulation.health import Health
from gitops.simulation.keys import Key, key_of
from tests.gitops.simulation.support import (
    application,
    container,
    kind_world,
    meta,
    pod_spec,
    simulation,
    tree_app,
    workload,
)

NS = "team"
ALB = "aws-load-balancer-controller"
WEBHOOK_DOWN = (
    'Internal error occurred: failed calling webhook "{name}": no endpoints available for the '
    "webhook service (its pods are not ready)"
)


def chart_app(chart: str, namespace: str, values: dict[str, Any] | None = None) -> Any:
    obj = application(chart, namespace)
    source: dict[str, Any] = {"repoURL": "https://charts.example.com", "chart": chart}
    if values is not None:
        source["helm"] = {"valuesObject": values}
    obj["spec"]["source"] = source
    return tree_app(obj, [])


def with_webhooks(chart: str, namespace: str) -> Simulation:
    """A cluster holding the chart's webhook configurations (and nothing that serves them)."""
    sim = simulation([], kind_world())
    for name in (NS, namespace):
        sim.create_namespace(name)
    objects = charts.objects(chart_app(chart, namespace), sim.world)
    assert isinstance(objects, list)
    hooks = [o for o in objects if o["kind"] == "ValidatingWebhookConfiguration"]
    assert hooks
    assert sim.apply(hooks) == []
    return sim


def service(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name, NS, labels=labels or {}),
        "spec": {"ports": [{"port": 80}]},
    }


def ingress(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": meta(name, NS),
        "spec": {"ingressClassName": "alb", "rules": []},
    }


# --- webhooks that fail closed ------------------------------------------------------------------


def test_a_failing_closed_webhook_refuses_writes_until_its_pods_are_ready() -> None:
    sim = with_webhooks(ALB, "kube-system")
    refused = WEBHOOK_DOWN.format(name="mservice.elbv2.k8s.aws")
    assert sim.apply([service("web")]) == [f"Service team/web: {refused}"]
    assert Key("", "Service", NS, "web") not in sim.cluster.objects

    sim.capabilities = {ALB}
    assert sim.apply([service("web")]) == []


def test_the_webhook_intercepts_only_its_kinds_and_operations() -> None:
    sim = with_webhooks(ALB, "kube-system")
    sim.capabilities = {ALB}
    assert sim.apply([service("web"), ingress("web")]) == []
    sim.capabilities = set()
    # Service: CREATE only; Ingress: CREATE and UPDATE
    assert sim.apply([service("web")]) == []
    assert sim.apply([ingress("web")]) == [
        f"Ingress team/web: {WEBHOOK_DOWN.format(name='vingress.elbv2.k8s.aws')}"
    ]
    assert sim.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("c", NS)}]) == []


def test_the_charts_own_objects_carry_the_exempt_label() -> None:
    sim = with_webhooks(ALB, "kube-system")
    own = service("webhook", {"app.kubernetes.io/name": ALB})
    assert sim.apply([own]) == []
    other = service("other", {"app.kubernetes.io/name": "web"})
    assert sim.apply([other]) != []


def test_the_external_secrets_webhooks_refuse_deletes_too() -> None:
    sim = with_webhooks("external-secrets", "external-secrets")
    sim.cluster.install_crds({("external-secrets.io", "ExternalSecret")})
    secret = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": meta("db", NS),
        "spec": {},
    }
    down = WEBHOOK_DOWN.format(name="validate.externalsecret.external-secrets.io")
    assert sim.apply([secret]) == [f"ExternalSecret team/db: {down}"]
    sim.capabilities = {"external-secrets-webhook"}
    assert sim.apply([secret]) == []
    sim.capabilities = set()
    with pytest.raises(Exception, match="failed calling webhook"):
        sim.cluster.delete(key_of(secret))


# --- capabilities and hook output ---------------------------------------------------------------


def provider(provides: str, image: str = "docker.io/library/busybox:1.36") -> dict[str, Any]:
    obj = workload("Deployment", "controller", NS, pod_spec(container(image=image)))
    obj["metadata"]["annotations"] = {charts.PROVIDES: provides}
    return obj


def test_a_ready_controller_provides_its_capability() -> None:
    sim = simulation([], kind_world())
    sim.create_namespace(NS)
    assert sim.apply([provider("metrics.k8s.io")]) == []
    workloads.reconcile(sim.cluster, sim.world, sim.workloads, set())
    assert charts.capabilities(sim.cluster, sim.workloads) == {"metrics.k8s.io"}


def test_a_controller_that_is_not_ready_provides_nothing() -> None:
    sim = simulation([], kind_world())
    sim.create_namespace(NS)
    not_loaded = "ghcr.io/example-org/ml-inference-platform/controller:dev"
    assert sim.apply([provider("metrics.k8s.io", not_loaded)]) == []
    workloads.reconcile(sim.cluster, sim.world, sim.workloads, set())
    assert charts.capabilities(sim.cluster, sim.workloads) == set()


def test_a_completed_hook_job_writes_its_secret() -> None:
    sim = simulation([], kind_world())
    sim.create_namespace(NS)
    job = workload("Job", "admission-create", NS, pod_spec(container()))
    job["metadata"]["annotations"] = {charts.JOB_OUTPUT: "admission"}
    assert sim.apply([job]) == []
    charts.job_effects(sim.cluster, sim.workloads)
    assert Key("", "Secret", NS, "admission") not in sim.cluster.objects  # not run yet
    workloads.reconcile(sim.cluster, sim.world, sim.workloads, set())
    charts.job_effects(sim.cluster, sim.workloads)
    assert Key("", "Secret", NS, "admission") in sim.cluster.objects


def test_an_unmodelled_chart_is_a_comparison_error() -> None:
    objects = charts.objects(chart_app("cert-manager", NS), kind_world())
    assert objects == "chart cert-manager is not modelled (gitops/simulation/charts.py)"


# --- prometheus-operator ------------------------------------------------------------------------


def prometheus(storage_class: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if storage_class is not None:
        values = {
            "prometheus": {
                "prometheusSpec": {
                    "storageSpec": {
                        "volumeClaimTemplate": {
                            "spec": {
                                "storageClassName": storage_class,
                                "accessModes": ["ReadWriteOnce"],
                            }
                        }
                    }
                }
            }
        }
    objects = charts.objects(chart_app("kube-prometheus-stack", "monitoring", values), kind_world())
    assert isinstance(objects, list)
    return next(o for o in objects if o["kind"] == "Prometheus")


def operated(*objects: dict[str, Any], operator: bool = True) -> Simulation:
    sim = simulation([], kind_world())
    sim.create_namespace("monitoring")
    sim.cluster.install_crds({("monitoring.coreos.com", "Prometheus")})
    assert sim.apply(list(objects)) == []
    capabilities = {"prometheus-operator"} if operator else set()
    sim.operators.reconcile(sim.cluster, sim.workloads, capabilities)
    return sim


STORAGE_CLASS = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": meta("gp3"),
    "provisioner": "ebs.csi.aws.com",
}
STATEFULSET = Key(
    "apps", "StatefulSet", "monitoring", "prometheus-kube-prometheus-stack-prometheus"
)


def test_the_operator_refuses_a_storage_class_that_does_not_exist() -> None:
    resource = prometheus("gp3")
    sim = operated(resource)
    assert STATEFULSET not in sim.cluster.objects
    live = sim.cluster.get(key_of(resource)) or {}
    conditions = {c["type"]: c for c in live["status"]["conditions"]}
    assert conditions["Reconciled"]["status"] == "False"
    assert conditions["Reconciled"]["message"] == 'storage class "gp3" does not exist'
    # Argo CD's Prometheus check reads the Available condition the status reporter writes
    assert sim.health(live) == Health(
        "Degraded",
        "shard 0: statefulset monitoring/prometheus-kube-prometheus-stack-prometheus not found",
    )
    assert resource_reason(sim, key_of(resource)).endswith(': storage class "gp3" does not exist')


def test_a_storage_class_created_later_lets_the_operator_go_on() -> None:
    resource = prometheus("gp3")
    sim = operated(resource)
    assert sim.apply([STORAGE_CLASS]) == []
    sim.operators.reconcile(sim.cluster, sim.workloads, {"prometheus-operator"})
    assert STATEFULSET in sim.cluster.objects
    live = sim.cluster.get(key_of(resource)) or {}
    assert "_problem" not in live
    assert {c["type"]: c["status"] for c in live["status"]["conditions"]} == {
        "Available": "False",
        "Reconciled": "True",
    }


def test_the_operator_creates_the_statefulset_and_its_claim_when_the_class_exists() -> None:
    resource = prometheus("gp3")
    sim = operated(STORAGE_CLASS, resource)
    statefulset = sim.cluster.objects[STATEFULSET]
    claim = statefulset["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]
    assert Key("", "PersistentVolumeClaim", "monitoring", claim["claimName"]) in sim.cluster.objects
    live = sim.cluster.get(key_of(resource)) or {}
    assert {c["type"]: c["status"] for c in live["status"]["conditions"]} == {
        "Available": "False",
        "Reconciled": "True",
    }


def test_without_a_storage_spec_no_class_is_needed() -> None:
    sim = operated(prometheus(None))
    assert STATEFULSET in sim.cluster.objects


def test_nothing_happens_before_the_operator_runs() -> None:
    resource = prometheus("gp3")
    sim = operated(resource, operator=False)
    assert "status" not in (sim.cluster.get(key_of(resource)) or {})
    health = sim.health(sim.cluster.get(key_of(resource)) or {})
    assert health is not None
    assert (health.status, health.message) == ("Progressing", "Waiting for initialization")
