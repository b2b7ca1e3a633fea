"""`python -m gitops inventory --models`: every model the tenants serve, with the Service in
front of the pods that serve it (what the bootstraps grant READ on and e2e calls)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops.tree import inventory
from gitops.tree.inventory import main
from tests.gitops.tree_copies import copy_real_tree, with_model


def test_the_real_tree_s_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--cluster", "eks", "--models"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "tenant-a tenant-a-iris @production inference-service",
        "tenant-b tenant-b-wine @production inference-service",
    ]


def test_a_dedicated_model_is_behind_its_own_service(tmp_path: Path) -> None:
    repo = with_model(copy_real_tree(tmp_path / "repo"), "tenant-a", "fraud", dedicated=True)
    models = repo / "overlays/kind/tenants/tenant-b/models.yaml"
    models.write_text(models.read_text().replace("alias: staging", "version: 3"))
    assert inventory.models(inventory.cluster_tree(repo, "kind")) == [
        "tenant-a tenant-a-churn @staging inference-service",
        "tenant-a tenant-a-fraud @staging inference-service-fraud",
        "tenant-a tenant-a-iris @staging inference-service",
        "tenant-b tenant-b-wine /3 inference-service",
    ]
