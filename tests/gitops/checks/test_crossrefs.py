"""The `crossrefs` check (gitops/checks/crossrefs.py) catches the fault it exists for: each test
plants one fault into a copy of fixtures/good-repo (a small, complete, valid repository) and
expects the check, with a message naming the object, to fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.gitops.tree_copies import edit_yaml, problems, validate


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
