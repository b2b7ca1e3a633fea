"""pin/unpin one model of a copy of a real tenant overlay (base/ copied alongside so it
renders): its models.yaml entry changes, nothing else of the file does."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from gitops.tree.render import render
from inference.contracts.tenant_models import parse

REPO_ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.integration


def _rendered_model_uri(overlay: Path, model: str) -> str:
    configmaps = [
        obj
        for obj in render(overlay)
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].startswith("tenant-models-")
    ]
    assert len(configmaps) == 1
    return str(parse(yaml.safe_load(configmaps[0]["data"]["models.yaml"])).get(model).uri)


@pytest.fixture
def overlay(tmp_path, tenants_file, monkeypatch):
    """A copy of tenant-b's Kind overlay (with base/ at the same relative place), declaring
    this test's iris model at @staging and, after it, a second model."""
    # The pinned kubectl of the venv renders, as under `make`.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    repo = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "base", repo / "base")
    tenant = tenants_file[1]
    path = repo / "overlays" / "kind" / "tenants" / tenant
    shutil.copytree(REPO_ROOT / "overlays" / "kind" / "tenants" / "tenant-b", path)
    text = (path / "models.yaml").read_text().replace("tenant-b-wine", f"{tenant}-iris")
    (path / "models.yaml").write_text(
        text + f"  - name: {tenant}-churn  # the team's own\n    version: 4\n"
    )
    return path


def test_pin_writes_the_alias_version_and_unpin_restores(cli, tenants_file, overlay):
    model = f"{tenants_file[1]}-iris"
    before = (overlay / "models.yaml").read_text()
    assert cli("train", "--tenant", tenants_file[1]).code == 0
    assert cli("train", "--tenant", tenants_file[1]).code == 0
    assert cli("promote", "--model", model, "--version", "2", "--alias", "staging").code == 0

    pinned = cli("pin", "--model", model, "--alias", "staging", "--overlay", str(overlay))
    assert pinned.code == 0, pinned.err
    after = (overlay / "models.yaml").read_text()
    assert after == before.replace(
        f"name: {model}\n    alias: staging", f"name: {model}\n    version: 2"
    )
    assert _rendered_model_uri(overlay, model) == f"models:/{model}/2"

    unpinned = cli("unpin", "--model", model, "--alias", "staging", "--overlay", str(overlay))
    assert unpinned.code == 0, unpinned.err
    assert (overlay / "models.yaml").read_text() == before
    assert _rendered_model_uri(overlay, model) == f"models:/{model}@staging"


def test_pin_names_the_model_of_several_and_refuses_a_rollout(cli, tenants_file, overlay):
    model = f"{tenants_file[1]}-iris"
    before = (overlay / "models.yaml").read_text()
    assert cli("train", "--tenant", tenants_file[1]).code == 0
    assert cli("promote", "--model", model, "--version", "1", "--alias", "staging").code == 0

    several = cli("pin", "--alias", "staging", "--overlay", str(overlay))
    assert several.code == 2
    assert f"declares several models ({model}, {tenants_file[1]}-churn); name one" in several.err

    (overlay / "models.yaml").write_text(
        before.replace(f"name: {model}\n", f"name: {model}\n    rollout: rollout.yaml\n")
    )
    rolling = cli("pin", "--model", model, "--alias", "staging", "--overlay", str(overlay))
    assert rolling.code == 2
    assert f"{model} rolls out under rollout.yaml, and a pinned version cannot roll out" in (
        " ".join(rolling.err.split())
    )


def test_pin_refuses_wrong_model_wrong_folder_and_unset_alias(cli, tenants_file, overlay):
    model = f"{tenants_file[1]}-iris"
    before = (overlay / "models.yaml").read_text()
    assert cli("train", "--tenant", tenants_file[1]).code == 0

    other = cli("pin", "--model", "tenant-b-wine", "--alias", "staging", "--overlay", str(overlay))
    assert other.code == 2
    assert "--model tenant-b-wine:" in other.err
    assert f"does not declare it (it declares {model}, {tenants_file[1]}-churn)" in other.err

    folder = cli("pin", "--model", model, "--alias", "staging", "--overlay", str(overlay.parent))
    assert folder.code == 2
    assert "expected a tenant folder" in folder.err

    unset = cli("pin", "--model", model, "--alias", "staging", "--overlay", str(overlay))
    assert unset.code == 2
    assert f"unknown alias 'staging' of {model}" in unset.err
    assert (overlay / "models.yaml").read_text() == before


def test_pin_restores_models_yaml_when_the_overlay_stops_rendering(cli, tenants_file, overlay):
    model = f"{tenants_file[1]}-iris"
    before = (overlay / "models.yaml").read_text()
    assert cli("train", "--tenant", tenants_file[1]).code == 0
    assert cli("promote", "--model", model, "--version", "1", "--alias", "staging").code == 0
    # The overlay's base is gone, so nothing this folder declares can render any more.
    shutil.rmtree(overlay.parents[3] / "base")

    failed = cli("pin", "--model", model, "--alias", "staging", "--overlay", str(overlay))
    assert failed.code == 1
    assert "no longer renders" in failed.err
    assert (overlay / "models.yaml").read_text() == before
