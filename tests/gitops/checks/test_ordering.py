"""The `ordering` check on a copy of the real tree: each test plants one fault that a real
cluster would hit (a custom resource before its CRD, a Secret nobody creates, pods that can
start before their guardrails) and expects the finding that names it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops.validate import validate_repo
from tests.gitops.tree_copies import copy_real_tree, edit_yaml, problems

WAVE = "argocd.argoproj.io/sync-wave"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_real_tree(tmp_path / "repo")


def ordering(repo: Path) -> str:
    return problems(validate_repo(repo, ["ordering"]), "ordering")


def set_wave(path: Path, wave: str) -> None:
    edit_yaml(path, lambda d: d[0]["metadata"]["annotations"].update({WAVE: wave}))


def test_the_real_tree_passes(repo: Path) -> None:
    assert ordering(repo) == ""


def test_prometheus_rule_synced_before_the_chart_that_installs_its_crd(repo: Path) -> None:
    # The original bug: monitoring (wave 3) before kube-prometheus-stack (wave 4).
    set_wave(repo / "apps/base/monitoring.yaml", "3")
    set_wave(repo / "apps/base/kube-prometheus-stack.yaml", "4")
    found = ordering(repo)
    assert (
        "Application argocd/monitoring: PrometheusRule monitoring/inference-service-alerts" in found
    )
    assert "monitoring.coreos.com resource in wave 3, but its CRD is installed only later" in found


def test_crd_installed_in_the_same_wave_is_not_enough(repo: Path) -> None:
    set_wave(repo / "apps/base/monitoring.yaml", "3")
    assert "its CRD is installed in the same wave by Application argocd/kube-prometheus-stack" in (
        ordering(repo)
    )


def test_namespace_no_application_creates(repo: Path) -> None:
    def drop(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["syncPolicy"]["syncOptions"].remove("CreateNamespace=true")

    edit_yaml(repo / "apps/base/kube-prometheus-stack.yaml", drop)
    assert "namespace monitoring: used in wave 4 but created in no Application" in ordering(repo)


def test_secret_the_bootstrap_no_longer_creates(repo: Path) -> None:
    script = repo / "clusters/kind/bootstrap.sh"
    text = script.read_text()
    text = text.replace(
        "ensure_secret mlflow mlflow-auth \\", "create_nothing mlflow mlflow-auth \\"
    )
    script.write_text(text)
    found = ordering(repo)
    assert (
        "kind: Application argocd/mlflow: Deployment mlflow/mlflow: needs Secret mlflow/mlflow-auth"
        in found
    )
    assert "created by nothing deployed and not by the bootstrap" in found


def test_serviceaccount_back_in_the_workload(repo: Path) -> None:
    # Where it was before: the tenant's own Application creates it, so nothing orders it
    # after the kit's quota and network policies.
    (repo / "base/tenant/serviceaccount.yaml").rename(repo / "base/inference/serviceaccount.yaml")
    for folder, change in (("base/tenant", "remove"), ("base/inference", "append")):

        def edit(docs: list[dict[str, Any]], change: str = change) -> None:
            resources = docs[0]["resources"]
            getattr(resources, change)("serviceaccount.yaml")

        edit_yaml(repo / folder / "kustomization.yaml", edit)
    found = ordering(repo)
    assert (
        "Deployment tenant-a/inference-service: ServiceAccount inference-service comes from "
        "Application argocd/tenant-a" in found
    )


def test_serviceaccount_in_the_same_wave_as_the_guardrails(repo: Path) -> None:
    edit_yaml(
        repo / "base/tenant/serviceaccount.yaml",
        lambda d: d[0]["metadata"].pop("annotations"),
    )
    found = ordering(repo)
    assert (
        "ServiceAccount inference-service (wave 0) is not after ResourceQuota tenant-a/tenant-quota"
        in found
    )


def test_pods_as_the_default_serviceaccount(repo: Path) -> None:
    edit_yaml(
        repo / "base/inference/deployment.yaml",
        lambda d: d[0]["spec"]["template"]["spec"].pop("serviceAccountName"),
    )
    assert "runs as the namespace's default ServiceAccount" in ordering(repo)


def test_argo_cd_install_without_the_application_health_check(repo: Path) -> None:
    settings = repo / "base/argocd/argocd-cm.yaml"
    settings.write_text(
        settings.read_text().replace("resource.customizations.health.argoproj.io_Application", "x")
    )
    assert "the Argo CD install does not set resource.customizations.health" in ordering(repo)


def test_argo_cd_install_without_its_settings(repo: Path) -> None:
    script = repo / "clusters/install-argocd.sh"
    script.write_text(script.read_text().replace("/argocd/config", "/argocd/elsewhere"))
    assert "the Argo CD install does not apply Argo CD's settings" in ordering(repo)
