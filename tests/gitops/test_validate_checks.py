"""Every validation check catches the fault it exists for: each test plants one fault into
a copy of fixtures/good-repo (a small, complete, valid repository) and expects that check,
with a message naming the object, to fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops.validate import validate_repo
from tests.gitops.tree_copies import GENERIC_CHECKS, edit_yaml, problems

FAST = [c for c in GENERIC_CHECKS if c != "checkov"]
TENANT = Path("overlays/kind/tenants/tenant-a")
DEPLOYMENT = Path("base/inference/deployment.yaml")


def validate(repo: Path, *checks: str):
    return validate_repo(repo, checks or FAST)


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return docs[0]["spec"]["template"]["spec"]["containers"][0]


def test_good_repo_passes_every_generic_check_including_checkov(good_repo: Path) -> None:
    report = validate_repo(good_repo, GENERIC_CHECKS)
    assert report.ok, "\n".join(map(str, report.findings))
    assert report.stats["applications"] == {"kind": 5}
    assert report.stats["checkov_inputs"] > 0


def test_kustomization_that_fails_to_build(good_repo: Path) -> None:
    (good_repo / TENANT / "kustomization.yaml").write_text(
        "resources:\n  - does-not-exist.yaml\n", encoding="utf-8"
    )
    report = validate(good_repo, "render")
    assert "overlays/kind/tenants/tenant-a: kustomize build failed" in problems(report, "render")


def test_unknown_kind(good_repo: Path) -> None:
    (good_repo / "overlays/kind/minio/configmap.yaml").write_text(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n", encoding="utf-8"
    )
    found = problems(validate(good_repo, "schemas"), "schemas")
    assert "Widget minio/w: no schema for kind Widget" in found


def test_removed_api_version(good_repo: Path) -> None:
    edit_yaml(good_repo / DEPLOYMENT, lambda d: d[0].update(apiVersion="extensions/v1beta1"))
    found = problems(validate(good_repo, "schemas"), "schemas")
    assert "Deployment tenant-a/inference-service" in found
    assert "apiVersion extensions/v1beta1" in found


def test_unknown_field_in_core_object(good_repo: Path) -> None:
    edit_yaml(good_repo / DEPLOYMENT, lambda d: container(d).update(imagePullPolice="Always"))
    found = problems(validate(good_repo, "schemas"), "schemas")
    assert "spec.template.spec.containers.0" in found
    assert "imagePullPolice" in found


def test_unknown_field_in_application_spec(good_repo: Path) -> None:
    edit_yaml(good_repo / "apps/kind/minio.yaml", lambda d: d[0]["spec"].update(syncWave=1))
    found = problems(validate(good_repo, "crd-schemas"), "crd-schemas")
    assert "Application argocd/minio: spec: Additional properties" in found
    assert "syncWave" in found


def test_unknown_field_in_generated_application(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["template"]["spec"]["source"]["pathh"] = "x"

    edit_yaml(good_repo / "apps/kind/tenants.yaml", plant)
    found = problems(validate(good_repo, "crd-schemas"), "crd-schemas")
    assert "pathh" in found


def test_api_version_not_served_by_crd(good_repo: Path) -> None:
    edit_yaml(
        good_repo / "base/inference/servicemonitor.yaml",
        lambda d: d[0].update(apiVersion="monitoring.coreos.com/v1beta7"),
    )
    found = problems(validate(good_repo, "crd-schemas"), "crd-schemas")
    assert "ServiceMonitor" in found
    assert "is not served by the CRD" in found


def test_service_selecting_nothing(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["selector"] = {"app.kubernetes.io/component": "nothing"}

    edit_yaml(good_repo / "base/inference/service.yaml", plant)
    found = problems(validate(good_repo, "crossrefs"), "crossrefs")
    assert "Service tenant-a/inference-service: selector" in found
    assert "matches no pod template" in found


def test_target_port_that_does_not_exist(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["ports"][0]["targetPort"] = "metrics"

    edit_yaml(good_repo / "base/inference/service.yaml", plant)
    found = problems(validate(good_repo, "crossrefs"), "crossrefs")
    assert "targetPort 'metrics'" in found


def test_hpa_to_missing_deployment(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["scaleTargetRef"]["name"] = "gone"

    edit_yaml(good_repo / "base/inference/hpa.yaml", plant)
    found = problems(validate(good_repo, "crossrefs"), "crossrefs")
    assert (
        "HorizontalPodAutoscaler tenant-a/inference-service: scaleTargetRef Deployment/gone"
        in found
    )


def test_pdb_selecting_nothing(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["selector"] = {"matchLabels": {"app": "other"}}

    edit_yaml(good_repo / "base/inference/pdb.yaml", plant)
    assert "PodDisruptionBudget" in problems(validate(good_repo, "crossrefs"), "crossrefs")


def test_service_monitor_with_wrong_port_name(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["endpoints"][0]["port"] = "metrics"

    edit_yaml(good_repo / "base/inference/servicemonitor.yaml", plant)
    found = problems(validate(good_repo, "crossrefs"), "crossrefs")
    assert "ServiceMonitor tenant-a/inference-service: endpoint port 'metrics'" in found


def test_application_path_that_does_not_exist(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["source"]["path"] = "overlays/kind/minoi"

    edit_yaml(good_repo / "apps/kind/minio.yaml", plant)
    found = problems(validate(good_repo, "argo"), "argo")
    assert "Application argocd/minio: source path 'overlays/kind/minoi' does not exist" in found


@pytest.mark.parametrize("revision", ["*", "77.x", "^77.0.0", ">=77.0.0", "latest", ""])
def test_helm_chart_not_pinned(good_repo: Path, revision: str) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["source"]["targetRevision"] = revision

    edit_yaml(good_repo / "apps/kind/monitoring.yaml", plant)
    found = problems(validate(good_repo, "argo"), "argo")
    assert "chart kube-prometheus-stack targetRevision" in found
    assert "is not pinned" in found


def test_tenant_application_with_platform_project(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["template"]["spec"]["project"] = "platform"

    edit_yaml(good_repo / "apps/kind/tenants.yaml", plant)
    found = problems(validate(good_repo, "tenancy"), "tenancy")
    assert "Application argocd/tenant-a: tenant Application uses project 'platform'" in found


def test_tenant_app_deploying_a_cluster_role(good_repo: Path) -> None:
    (good_repo / "base/tenant/clusterrole.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: peek\n"
        "rules: []\n",
        encoding="utf-8",
    )
    edit_yaml(
        good_repo / "base/tenant/kustomization.yaml",
        lambda d: d[0]["resources"].append("clusterrole.yaml"),
    )
    found = problems(validate(good_repo, "tenancy"), "tenancy")
    assert "ClusterRole peek: tenant Application deploys a cluster-scoped kind" in found


def test_tenant_app_deploying_into_another_namespace(good_repo: Path) -> None:
    edit_yaml(
        good_repo / "base/inference/serviceaccount.yaml",
        lambda d: d[0]["metadata"].update(namespace="mlflow"),
    )
    edit_yaml(good_repo / TENANT / "kustomization.yaml", lambda d: d[0].pop("namespace"))
    found = problems(validate(good_repo, "tenancy"), "tenancy")
    assert "ServiceAccount mlflow/inference-service: tenant Application deploys outside" in found


def test_tenant_project_allowing_cluster_kinds_and_other_namespaces(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["clusterResourceWhitelist"] = [{"group": "*", "kind": "*"}]
        docs[0]["spec"]["destinations"].append({"server": "x", "namespace": "mlflow"})
        docs[0]["spec"]["sourceRepos"] = ["*"]

    edit_yaml(good_repo / "apps/kind/projects/tenant-a.yaml", plant)
    found = problems(validate(good_repo, "tenancy"), "tenancy")
    assert "clusterResourceWhitelist has entries" in found
    assert "destination namespace 'mlflow' is not the tenant's" in found
    assert "sourceRepos ['*'] is not only this repository" in found


def test_wave_order_broken(good_repo: Path) -> None:
    edit_yaml(
        good_repo / "apps/kind/mlflow.yaml",
        lambda d: d[0]["metadata"]["annotations"].update({"argocd.argoproj.io/sync-wave": "0"}),
    )
    found = problems(validate(good_repo, "sync-waves"), "sync-waves")
    assert "registry sync wave 0 is not after storage wave 1" in found


def test_tenant_namespace_without_default_deny(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["ingress"] = [{}]  # allows all ingress: no longer a default deny

    edit_yaml(good_repo / "base/tenant/networkpolicy-default-deny.yaml", plant)
    found = problems(validate(good_repo, "tenancy"), "tenancy")
    assert "kind: namespace tenant-a: no default-deny NetworkPolicy" in found


def test_tenant_folder_no_application_deploys(good_repo: Path) -> None:
    edit_yaml(
        good_repo / "apps/kind/tenants.yaml",
        lambda d: d[0]["spec"]["generators"][0]["git"]["directories"].append(
            {"path": "overlays/kind/tenants/tenant-a", "exclude": True}
        ),
    )
    found = problems(validate(good_repo, "tenancy"), "tenancy")
    assert "kind: overlays/kind/tenants/tenant-a: no Application deploys this tenant" in found


def test_privileged_container_and_missing_run_as_non_root(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        pod = docs[0]["spec"]["template"]["spec"]
        pod["securityContext"].pop("runAsNonRoot")
        ctx = container(docs)["securityContext"]
        ctx.pop("runAsNonRoot")
        ctx["privileged"] = True

    edit_yaml(good_repo / DEPLOYMENT, plant)
    found = problems(validate(good_repo, "pod-security"), "pod-security")
    assert "containers[inference]: securityContext.privileged is true" in found
    assert "containers[inference]: runAsNonRoot is not true" in found


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p, c: p.update(hostNetwork=True), "spec.hostNetwork is true"),
        (
            lambda p, c: p["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
            "volume 'h' is of type ['hostPath']",
        ),
        (
            lambda p, c: c["securityContext"].update(allowPrivilegeEscalation=True),
            "allowPrivilegeEscalation is not false",
        ),
        (
            lambda p, c: c["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
            "capabilities.add ['SYS_ADMIN']",
        ),
        (
            lambda p, c: c["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
            "capabilities.drop does not contain ALL",
        ),
        (lambda p, c: p["securityContext"].pop("seccompProfile"), "seccompProfile.type is None"),
        (
            lambda p, c: c["securityContext"].update(readOnlyRootFilesystem=False),
            "readOnlyRootFilesystem is not true",
        ),
    ],
)
def test_pod_security_restricted_rules(good_repo: Path, change: Any, message: str) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        change(docs[0]["spec"]["template"]["spec"], container(docs))

    edit_yaml(good_repo / DEPLOYMENT, plant)
    found = problems(validate(good_repo, "pod-security"), "pod-security")
    assert "Deployment tenant-a/inference-service" in found
    assert message in found


def test_secret_with_data_rendered_and_committed(good_repo: Path) -> None:
    (good_repo / "overlays/kind/mlflow/secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: x\n",
        encoding="utf-8",
    )
    edit_yaml(
        good_repo / "overlays/kind/mlflow/kustomization.yaml",
        lambda d: d[0]["resources"].append("secret.yaml"),
    )
    found = problems(validate(good_repo, "secrets"), "secrets")
    assert "Secret mlflow/creds: Secret with data/stringData in rendered output" in found
    assert "overlays/kind/mlflow/secret.yaml: Secret creds: committed Secret" in found


def test_secret_generator_is_rendered_secret_data(good_repo: Path) -> None:
    edit_yaml(
        good_repo / TENANT / "kustomization.yaml",
        lambda d: d[0].update(secretGenerator=[{"name": "s", "literals": ["password=x"]}]),
    )
    found = problems(validate(good_repo, "secrets"), "secrets")
    assert "Secret tenant-a/s-" in found


def test_unjustified_checkov_skip(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["metadata"]["annotations"] = {"checkov.io/skip1": "CKV_K8S_14"}

    edit_yaml(good_repo / DEPLOYMENT, plant)
    found = problems(validate(good_repo, "checkov-skips"), "checkov-skips")
    assert "annotation checkov.io/skip1='CKV_K8S_14' has no reason" in found


def test_invalid_prometheus_rule_expression(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["groups"][0]["rules"][0]["expr"] = "sum(rate(x[5m]) >"

    edit_yaml(good_repo / "base/inference/prometheusrule.yaml", plant)
    found = problems(validate(good_repo, "promtool"), "promtool")
    assert "PrometheusRule" in found
    assert "promtool check rules failed" in found


def test_missing_promtool_is_an_error(good_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMTOOL", str(good_repo / "no-such-promtool"))
    found = problems(validate(good_repo, "promtool"), "promtool")
    assert "promtool not found" in found


def test_checkov_failure_is_reported_with_check_id(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        c = container(docs)
        c["image"] = "ghcr.io/example-org/ml-inference-platform/inference-service:latest"
        c.pop("livenessProbe")

    edit_yaml(good_repo / DEPLOYMENT, plant)
    found = problems(validate_repo(good_repo, ["checkov"]), "checkov")
    assert "Deployment tenant-a/inference-service: CKV_K8S_8" in found  # liveness probe
    assert "CKV_K8S_14" in found  # image tag latest


def test_tenant_kind_outside_project_whitelist(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["namespaceResourceWhitelist"] = [{"group": "apps", "kind": "Deployment"}]

    edit_yaml(good_repo / "apps/kind/projects/tenant-a.yaml", plant)
    found = problems(validate(good_repo, "tenancy"), "tenancy")
    assert "Service tenant-a/inference-service: kind Service (group '') is not in the" in found
    assert "Deployment tenant-a" not in found
