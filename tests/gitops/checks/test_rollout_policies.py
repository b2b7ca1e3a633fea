"""The checks that cover rollouts, each with faults planted in copies of the real tree:
`rollout-policies` (the file a models.yaml entry names, its alias, its ConfigMap and the
mount of the Deployment serving the model), `sync-waves` (the
judge after the registry and monitoring) and `reachability` (the judge reaches only DNS,
MLflow and Prometheus)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops import paths
from gitops.validate import validate_repo
from tests.gitops.tree_copies import copy_real_tree, edit_yaml, problems

KIND_A = Path("overlays/kind/tenants/tenant-a")
JUDGE = "rollout-judge/rollout-judge"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_real_tree(tmp_path / "repo")


def found(repo: Path, check: str) -> str:
    return problems(validate_repo(repo, [check]), check)


def test_real_tree_has_policies_and_they_pass() -> None:
    assert (paths.REPO_ROOT / KIND_A / "rollout.yaml").is_file()
    assert found(paths.REPO_ROOT, "rollout-policies") == ""


def test_a_bad_field_is_named(repo: Path) -> None:
    path = repo / KIND_A / "rollout.yaml"
    document = yaml.safe_load(path.read_text())
    document["minRequests"] = 0
    path.write_text(yaml.safe_dump(document))
    text = found(repo, "rollout-policies")
    assert (
        f"{KIND_A}/rollout.yaml: minRequests: got 0, expected an integer from 1 to 10000000"
    ) in text


def test_the_policy_must_follow_the_alias_its_model_follows(repo: Path) -> None:
    path = repo / "overlays/eks/tenants/tenant-a/rollout.yaml"
    path.write_text(path.read_text().replace("stableAlias: production", "stableAlias: staging"))
    text = found(repo, "rollout-policies")
    assert (
        "overlays/eks/tenants/tenant-a/rollout.yaml: stableAlias 'staging' is not the alias "
        "tenant-a-iris follows in models.yaml ('production') (expected: alias: staging on the "
        "entry, or stableAlias: production)"
    ) in text


def test_a_policy_file_an_entry_names_must_exist(repo: Path) -> None:
    models = repo / KIND_A / "models.yaml"
    models.write_text(models.read_text().replace("rollout: rollout.yaml", "rollout: canary.yaml"))
    text = found(repo, "rollout-policies")
    assert (
        f"{KIND_A}: models.yaml: tenant-a-iris names the rollout policy canary.yaml, which does "
        "not exist"
    ) in text
    # The policy nobody names any more is reported too: its model would promote all at once.
    assert f"{KIND_A}/rollout.yaml: a RolloutPolicy that no model in models.yaml names" in text


def test_a_policy_that_is_not_rendered_or_not_mounted(repo: Path) -> None:
    def drop_generator(docs: list[dict[str, Any]]) -> None:
        docs[0]["configMapGenerator"] = [
            g for g in docs[0]["configMapGenerator"] if g["name"] != "rollout-policy"
        ]

    edit_yaml(repo / KIND_A / "kustomization.yaml", drop_generator)
    assert f"{KIND_A}: rollout.yaml is not rendered into a ConfigMap rollout-policy" in found(
        repo, "rollout-policies"
    )


def test_a_policy_the_serving_deployment_does_not_mount(repo: Path) -> None:
    def unmount(docs: list[dict[str, Any]]) -> None:
        spec = docs[0]["spec"]["template"]["spec"]
        spec["volumes"] = [v for v in spec["volumes"] if v["name"] != "rollout-policy"]
        for container in spec["containers"]:
            container["volumeMounts"] = [
                m for m in container["volumeMounts"] if m["name"] != "rollout-policy"
            ]

    edit_yaml(repo / "base/inference/deployment.yaml", unmount)
    text = found(repo, "rollout-policies")
    for cluster in paths.CLUSTERS:
        assert (
            f"overlays/{cluster}/tenants/tenant-a: Deployment inference-service serves "
            "tenant-a-iris but does not mount rollout.yaml at /etc/inference/rollout/rollout.yaml"
        ) in text


def test_the_judge_syncs_after_registry_and_monitoring(repo: Path) -> None:
    def wave_3(docs: list[dict[str, Any]]) -> None:
        docs[0]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = "3"

    edit_yaml(repo / "apps/base/rollout-judge.yaml", wave_3)
    text = found(repo, "sync-waves")
    assert "Application argocd/rollout-judge: rollouts sync wave 3 is not after monitoring" in text


def _planted(repo: Path, file: str, change: Callable[[list[dict[str, Any]]], None]) -> str:
    edit_yaml(repo / file, change)
    return found(repo, "reachability")


def drop(name: str) -> Callable[[list[dict[str, Any]]], None]:
    def change(docs: list[dict[str, Any]]) -> None:
        docs[0]["resources"].remove(name)

    return change


def test_the_judge_needs_its_mlflow_egress(repo: Path) -> None:
    text = _planted(
        repo,
        "base/rollout-judge/kustomization.yaml",
        drop("networkpolicy-allow-mlflow-egress.yaml"),
    )
    for cluster in paths.CLUSTERS:
        denied = f"{cluster}: {JUDGE} -> mlflow/mlflow:5000/TCP is not allowed: denied by egress"
        assert denied in text


def test_mlflow_needs_its_ingress_from_the_judge(repo: Path) -> None:
    text = _planted(
        repo, "base/mlflow/kustomization.yaml", drop("networkpolicy-allow-judge-ingress.yaml")
    )
    assert f"kind: {JUDGE} -> mlflow/mlflow:5000/TCP is not allowed: denied by ingress" in text
    assert "expected: allowed: the judge reads and moves rollouts in the registry" in text


def test_a_judge_open_to_everything_is_reported(repo: Path) -> None:
    def open_all(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["egress"] = [{}]

    text = _planted(repo, "base/rollout-judge/networkpolicy-allow-dns-egress.yaml", open_all)
    opened = "is not denied: allowed by egress policy rollout-judge/allow-dns-egress rule 0"
    assert f"kind: {JUDGE} -> kube-api 172.18.0.2:6443/TCP {opened}" in text
    assert f"kind: {JUDGE} -> internet 203.0.113.10:443/TCP {opened}" in text
    assert "expected: denied: the judge writes nothing to the Kubernetes API" in text
