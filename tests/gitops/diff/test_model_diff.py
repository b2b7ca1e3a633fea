"""The rendered diff of a pull request that adds a model (as `make model` writes it), on a git
repository made of a copy of the real tree: a reviewer sees the tenant's new ConfigMap
tenant-models (a new hash suffix, the old one removed) and the Deployment that serves the
model rolling to it; with a Deployment of its own, the new objects of the model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gitops import diff
from tests.gitops.git_repos import commit, init
from tests.gitops.tree_copies import copy_real_tree, with_model

_HASHED = re.compile(r"tenant-models-[a-z0-9]{10}")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = copy_real_tree(tmp_path / "repo")
    init(root)
    commit(root, "the platform")
    return root


def report(repo: Path, tmp_path: Path) -> str:
    out = tmp_path / "diff.txt"
    assert (
        diff.main(["--base", "HEAD", "--repo", str(repo), "--format", "text", "--output", str(out)])
        == 0
    )
    return out.read_text(encoding="utf-8")


def section(text: str, app: str) -> str:
    start = text.index(f"\n=== {app} ")
    end = text.find("\n=== ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def test_a_shared_model_shows_the_configmap_and_the_deployment_rollout(
    repo: Path, tmp_path: Path
) -> None:
    with_model(repo, "tenant-b", "churn")
    text = report(repo, tmp_path)
    for cluster, alias in (("kind", "staging"), ("eks", "production")):
        block = section(text, f"{cluster}/tenant-b")
        # One change of the generated ConfigMap, old name to new, its content line by line.
        renamed = re.search(
            rf"--- changed: ConfigMap tenant-b/({_HASHED.pattern}) -> ({_HASHED.pattern})\n", block
        )
        assert renamed is not None, block
        old, new = renamed[1], renamed[2]
        assert old != new
        assert f"+      - name: tenant-b-churn\n+        alias: {alias}\n" in block
        # The Deployment rolls: its volume names the new ConfigMap.
        assert "--- changed: apps/Deployment tenant-b/inference-service\n" in block
        assert f"-          name: {old}\n+          name: {new}\n" in block
        assert "--- added:" not in block
        assert "--- removed:" not in block
    # Nothing else of the platform changes.
    assert re.findall(r"\n=== (\S+) ", text) == ["eks/tenant-b", "kind/tenant-b"]


def test_a_dedicated_model_shows_its_own_objects(repo: Path, tmp_path: Path) -> None:
    with_model(repo, "tenant-b", "churn", dedicated=True)
    block = section(report(repo, tmp_path), "eks/tenant-b")
    for kind in (
        "apps/Deployment",
        "Service",
        "autoscaling/HorizontalPodAutoscaler",
        "policy/PodDisruptionBudget",
        "monitoring.coreos.com/ServiceMonitor",
        "networking.k8s.io/Ingress",
    ):
        assert f"--- added: {kind} tenant-b/inference-service-churn\n" in block
    assert "+        - name: MODEL_DEPLOYMENT\n+          value: tenant-b-churn\n" in block
