"""Tenants that render alike are scanned once by checkov, and what it finds is reported for
every one of them; a tenant that differs is scanned on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitops.checks.checkov.tenants import collapse, expand, shape
from gitops.tree.findings import Finding
from gitops.validate import validate_repo
from tests.gitops.tree_copies import copy_real_tree, edit_yaml, problems


def workload(tenant: str, memory: str = "768Mi") -> list[dict[str, Any]]:
    return [
        {
            "kind": "ConfigMap",
            "metadata": {"name": "inference-settings-abcde12345", "namespace": tenant},
            "data": {"MODEL_URI": f"models:/{tenant}-iris@staging", "TENANT": tenant},
        },
        {
            "kind": "Deployment",
            "metadata": {"name": "inference-service", "namespace": tenant},
            "spec": {"template": {"spec": {"containers": [{"resources": {"limits": {
                "memory": memory}}, "envFrom": [{"configMapRef": {
                    "name": "inference-settings-abcde12345"}}]}]}}},
        },
    ]  # fmt: skip


def test_the_same_objects_but_for_the_tenant_collapse() -> None:
    groups = {f"kind: Application argocd/{t}": workload(t) for t in ("tenant-a", "tenant-c")}
    groups["kind: Application argocd/tenant-b"] = workload("tenant-b", memory="1Gi")
    groups["kind: Application argocd/mlflow"] = [{"kind": "Deployment"}]
    tenants = {label: label.rsplit("/", 1)[1] for label in groups if "tenant" in label}
    collapsed = collapse(groups, tenants)
    assert sorted(collapsed.groups) == [
        "kind: Application argocd/mlflow",
        "kind: Application argocd/tenant-a",
        "kind: Application argocd/tenant-b",  # its own memory limit: scanned on its own
    ]
    assert collapsed.copies == {
        "kind: Application argocd/tenant-a": [
            ("kind: Application argocd/tenant-c", "tenant-c", "tenant-a")
        ]
    }
    finding = Finding(
        "checkov", "kind: Application argocd/tenant-a", "Deployment tenant-a/inference-service",
        "CKV_K8S_8 Liveness Probe Should be Configured",
    )  # fmt: skip
    copied = expand([finding], collapsed)[1]
    assert (copied.where, copied.obj) == (
        "kind: Application argocd/tenant-c",
        "Deployment tenant-c/inference-service",
    )


def test_a_name_that_only_contains_the_tenant_is_not_replaced() -> None:
    assert shape([{"a": "tenant-a"}], "tenant-a") == shape([{"a": "tenant-c"}], "tenant-c")
    assert shape([{"a": "tenant-ab"}], "tenant-a") != shape([{"a": "tenant-cb"}], "tenant-c")


def test_checkov_findings_reach_every_tenant_and_only_the_one_that_differs(
    tmp_path: Path,
) -> None:
    repo = copy_real_tree(tmp_path / "repo")
    patch = {
        "target": {"kind": "Deployment", "name": "inference-service"},
        "patch": "- op: remove\n  path: /spec/template/spec/containers/0/livenessProbe\n",
    }

    def add(docs: list[dict[str, Any]]) -> None:
        docs[0].setdefault("patches", []).append(patch)

    edit_yaml(repo / "overlays/kind/tenants/tenant-b/kustomization.yaml", add)
    found = problems(validate_repo(repo, ["checkov"]), "checkov")
    assert (
        "kind: Application argocd/tenant-b: Deployment tenant-b/inference-service: CKV_K8S_8"
        in found
    )
    assert "tenant-a/inference-service: CKV_K8S_8" not in found

    edit_yaml(repo / "overlays/kind/tenants/tenant-a/kustomization.yaml", add)
    found = problems(validate_repo(repo, ["checkov"]), "checkov")
    for tenant in ("tenant-a", "tenant-b"):
        assert f"Deployment {tenant}/inference-service: CKV_K8S_8" in found
