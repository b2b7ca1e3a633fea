"""`python -m training seed`: the first version of each declared model whose alias is unset,
against the real MLflow server; never touching an alias that is set, and skipping a declared
model training's catalog does not train."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _tenant(repo: Path, cluster: str, name: str, *entries: str) -> None:
    folder = repo / "overlays" / cluster / "tenants" / name
    folder.mkdir(parents=True)
    (folder / "kustomization.yaml").write_text("resources: []\n")
    listed = "".join(f"  - {entry}\n" for entry in entries)
    (folder / "models.yaml").write_text(
        f"apiVersion: ml-platform.example.com/v1alpha1\nkind: TenantModels\nmodels:\n{listed}"
    )


@pytest.fixture
def overlays(tmp_path, tenants_file, monkeypatch) -> tuple[Path, str]:
    """Two tenants on `kind`: one serving the iris model at @staging and a model of its own
    training code (not in the catalog), one pinned to version 7 of the wine model (which does
    not exist)."""
    tenant = tenants_file[1]
    repo = tmp_path / "repo"
    _tenant(
        repo,
        "kind",
        tenant,
        f"{{name: {tenant}-iris, alias: staging}}",
        f"{{name: {tenant}-churn, alias: staging}}",
    )
    _tenant(repo, "kind", f"{tenant}-w", f"{{name: {tenant}-w-wine, version: 7}}")
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
    # The team's own model is not trained here: reported, with what to do.
    churn = next(line for line in first.out.splitlines() if f"{tenant}-churn" in line)
    assert "skipped: not in the catalog" in churn
    assert f"not seeded: {tenant}-churn" in " ".join(first.out.split())

    status = cli("status")
    rows = [line for line in status.out.splitlines() if f"{tenant}-" in line]
    assert any(f"{tenant}-iris" in row and "kind @staging" in row for row in rows), rows
    assert any(f"{tenant}-churn" in row and "not registered" in row for row in rows), rows

    again = cli("seed", "--cluster", "kind")
    assert "already set" in again.out
    assert "trained and promoted" not in again.out


def test_seed_of_a_cluster_without_tenants_is_bad_input(cli, overlays):
    result = cli("seed", "--cluster", "eks")
    assert result.code == 2
    assert "no tenant overlays in overlays/eks/tenants" in result.err
