"""`python -m training seed`: the first version of each tenant whose served alias is unset,
against the real MLflow server; never touching an alias that is set."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _tenant(repo: Path, cluster: str, name: str, model_uri: str) -> None:
    folder = repo / "overlays" / cluster / "tenants" / name
    folder.mkdir(parents=True)
    (folder / "kustomization.yaml").write_text("resources: []\n")
    (folder / "model.env").write_text(f"MODEL_URI={model_uri}\nTENANT={name}\n")


@pytest.fixture
def overlays(tmp_path, tenants_file, monkeypatch) -> tuple[Path, str]:
    """Two tenants on `kind`: one serving the iris model at @staging, one pinned to version 7
    of the wine model (which does not exist)."""
    tenant = tenants_file[1]
    repo = tmp_path / "repo"
    _tenant(repo, "kind", tenant, f"models:/{tenant}-iris@staging")
    _tenant(repo, "kind", f"{tenant}-w", f"models:/{tenant}-w-wine/7")
    monkeypatch.setenv("TRAINING_OVERLAYS_ROOT", str(repo))
    return repo, tenant


def test_seed_trains_and_promotes_once_then_leaves_the_alias_alone(cli, overlays):
    _repo, tenant = overlays
    first = cli("seed", "--cluster", "kind")
    # The pinned version does not exist: reported, not invented, and the command says so.
    assert first.code == 1, first.err
    assert f"{tenant}-iris" in first.out
    assert "trained and promoted" in first.out
    assert "pinned version missing" in first.out

    status = cli("status")
    assert f"{tenant}-iris" in status.out

    again = cli("seed", "--cluster", "kind")
    assert "already set" in again.out
    assert "trained and promoted" not in again.out


def test_seed_of_a_cluster_without_tenants_is_bad_input(cli, overlays):
    result = cli("seed", "--cluster", "eks")
    assert result.code == 2
    assert "no tenant overlays in overlays/eks/tenants" in result.err
