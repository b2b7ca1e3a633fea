"""The `tenancy` check (gitops/checks/tenancy.py) catches the fault it exists for: each test
plants one fault into a copy of fixtures/good-repo (a small, complete, valid repository) and
expects the check, with a message naming the object, to fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.gitops.tree_copies import TENANT, edit_yaml, problems, validate


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


def test_tenant_kind_outside_project_whitelist(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["namespaceResourceWhitelist"] = [{"group": "apps", "kind": "Deployment"}]

    edit_yaml(good_repo / "apps/kind/projects/tenant-a.yaml", plant)
    found = problems(validate(good_repo, "tenancy"), "tenancy")
    assert "Service tenant-a/inference-service: kind Service (group '') is not in the" in found
    assert "Deployment tenant-a" not in found
