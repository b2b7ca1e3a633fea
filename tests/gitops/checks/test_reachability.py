"""The `reachability` check: the real tree keeps the intended network paths, and each
planted fault (in a copy of the real tree) is reported with the path and the policy that
blocks or opens it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gitops import paths
from gitops.validate import Report, validate_repo
from tests.gitops.tree_copies import copy_real_tree, edit_yaml, problems

CHECK = "reachability"
TENANT_KIT = Path("base/tenant/kustomization.yaml")
TENANT_A = "tenant-a/inference-service"
PROMETHEUS = "monitoring/prometheus-kube-prometheus-stack-prometheus"


@pytest.fixture(scope="module")
def real_report() -> Report:
    return validate_repo(paths.REPO_ROOT, [CHECK])


@pytest.mark.parametrize("cluster", paths.CLUSTERS)
def test_real_tree_passes(real_report: Report, cluster: str) -> None:
    found = [f for f in real_report.by_check(CHECK) if f.where == cluster]
    assert not found, "\n".join(map(str, found))


def planted(tmp_path: Path, file: str, change: Callable[[list[dict[str, Any]]], None]) -> str:
    repo = copy_real_tree(tmp_path / "repo")
    edit_yaml(repo / file, change)
    return problems(validate_repo(repo, [CHECK]), CHECK)


def drop_resource(name: str) -> Callable[[list[dict[str, Any]]], None]:
    def change(docs: list[dict[str, Any]]) -> None:
        assert name in docs[0]["resources"]
        docs[0]["resources"].remove(name)

    return change


def test_without_mlflow_egress_tenants_cannot_reach_mlflow(tmp_path: Path) -> None:
    found = planted(
        tmp_path, str(TENANT_KIT), drop_resource("networkpolicy-allow-mlflow-egress.yaml")
    )
    for cluster in paths.CLUSTERS:
        assert (
            f"{cluster}: {TENANT_A} -> mlflow/mlflow:5000/TCP is not allowed: denied by egress "
            f"of {TENANT_A}: selected by allow-dns-egress, default-deny-all; no rule allows it"
        ) in found
    assert "expected: allowed: the service loads its model from the MLflow registry" in found


def test_dns_egress_open_to_everything_is_reported_with_the_opening_policy(
    tmp_path: Path,
) -> None:
    def open_all(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["egress"] = [{}]

    found = planted(tmp_path, "base/tenant/networkpolicy-allow-dns-egress.yaml", open_all)
    opened = "is not denied: allowed by egress policy tenant-a/allow-dns-egress rule 0"
    assert f"kind: {TENANT_A} -> kube-api 172.18.0.2:6443/TCP {opened}" in found
    assert f"kind: {TENANT_A} -> kubernetes-service 10.96.0.1:443/TCP {opened}" in found
    assert f"eks: {TENANT_A} -> kube-api 10.0.0.10:443/TCP {opened}" in found
    assert f"eks: {TENANT_A} -> s3 52.95.0.1:443/TCP {opened}" in found
    assert f"kind: {TENANT_A} -> internet 203.0.113.10:443/TCP {opened}" in found
    # On EKS the other tenant's ALB rule (the whole VPC) admits tenant pods too.
    assert (
        f"eks: {TENANT_A} -> tenant-b/inference-service:8080/TCP {opened} and ingress policy "
        "tenant-b/allow-alb-ingress rule 0"
    ) in found
    # Defence in depth: the other side's ingress policies still close these.
    assert f"kind: {TENANT_A} -> tenant-b/inference-service" not in found
    assert f"{TENANT_A} -> minio/minio" not in found


def test_mlflow_admitting_another_namespace_label_shuts_tenants_out(tmp_path: Path) -> None:
    def relabel(docs: list[dict[str, Any]]) -> None:
        (peer,) = docs[0]["spec"]["ingress"][0]["from"]
        peer["namespaceSelector"] = {"matchLabels": {"ml-platform.example.com/team": "ml"}}

    found = planted(tmp_path, "base/mlflow/networkpolicy-allow-tenant-ingress.yaml", relabel)
    assert (
        f"kind: {TENANT_A} -> mlflow/mlflow:5000/TCP is not allowed: denied by ingress of "
        "mlflow/mlflow: selected by allow-judge-ingress, allow-tenant-ingress, default-deny-all; "
        "no rule allows it"
    ) in found


def test_without_prometheus_ingress_prometheus_cannot_scrape(tmp_path: Path) -> None:
    found = planted(
        tmp_path, str(TENANT_KIT), drop_resource("networkpolicy-allow-prometheus-ingress.yaml")
    )
    assert (
        f"kind: {PROMETHEUS} -> {TENANT_A}:8080/TCP is not allowed: denied by ingress of "
        f"{TENANT_A}: selected by default-deny-all; no rule allows it"
    ) in found
    assert "expected: allowed: Prometheus scrapes every tenant's /metrics" in found


def test_minio_without_the_mlflow_rule_cuts_off_the_artifact_store(tmp_path: Path) -> None:
    def drop_mlflow_peer(docs: list[dict[str, Any]]) -> None:
        rule = docs[0]["spec"]["ingress"][0]
        rule["from"] = [p for p in rule["from"] if "namespaceSelector" not in p]

    found = planted(tmp_path, "base/minio/networkpolicy-allow-api-ingress.yaml", drop_mlflow_peer)
    assert (
        "kind: mlflow/mlflow -> minio/minio:9000/TCP is not allowed: denied by ingress of "
        "minio/minio: selected by allow-api-ingress, default-deny-all; no rule allows it"
    ) in found
    assert "minio/create-bucket -> minio/minio:9000/TCP" not in found


def test_missing_mlflow_is_reported_not_skipped(tmp_path: Path) -> None:
    found = planted(tmp_path, "apps/base/kustomization.yaml", drop_resource("mlflow.yaml"))
    for cluster in paths.CLUSTERS:
        assert (
            f"{cluster}: no MLflow server pods (mlflow, labels app.kubernetes.io/name=mlflow) "
            "on this cluster"
        ) in found
