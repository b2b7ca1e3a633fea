"""pin/unpin on a copy of a real tenant overlay (base/ copied alongside so it renders)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from gitops.tree.render import render

REPO_ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.integration


def _rendered_model_uri(overlay) -> str:
    configmaps = [
        obj
        for obj in render(overlay)
        if obj["kind"] == "ConfigMap" and "MODEL_URI" in obj.get("data", {})
    ]
    assert len(configmaps) == 1
    return configmaps[0]["data"]["MODEL_URI"]


@pytest.fixture
def overlay(tmp_path, tenants_file, monkeypatch):
    """A copy of tenant-a's Kind overlay (with base/ at the same relative place), serving this
    test's model at @staging."""
    # The pinned kubectl of the venv renders, as under `make`.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    repo = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "base", repo / "base")
    path = repo / "overlays" / "kind" / "tenants" / "tenant-a"
    shutil.copytree(REPO_ROOT / "overlays" / "kind" / "tenants" / "tenant-a", path)
    model = f"{tenants_file[1]}-iris"
    text = (path / "model.env").read_text()
    lines = [
        f"MODEL_URI=models:/{model}@staging" if line.startswith("MODEL_URI=") else line
        for line in text.splitlines()
    ]
    (path / "model.env").write_text("\n".join(lines) + "\n")
    return path


def test_pin_writes_the_alias_version_and_unpin_restores(cli, tenants_file, overlay):
    model = f"{tenants_file[1]}-iris"
    before = (overlay / "model.env").read_text()
    assert cli("train", "--tenant", tenants_file[1]).code == 0
    assert cli("train", "--tenant", tenants_file[1]).code == 0
    assert cli("promote", "--model", model, "--version", "2", "--alias", "staging").code == 0

    pinned = cli("pin", "--model", model, "--alias", "staging", "--overlay", str(overlay))
    assert pinned.code == 0, pinned.err
    after = (overlay / "model.env").read_text()
    assert after == before.replace(f"models:/{model}@staging", f"models:/{model}/2")
    assert _rendered_model_uri(overlay) == f"models:/{model}/2"

    unpinned = cli("unpin", "--alias", "staging", "--overlay", str(overlay))
    assert unpinned.code == 0, unpinned.err
    assert (overlay / "model.env").read_text() == before
    assert _rendered_model_uri(overlay) == f"models:/{model}@staging"


def test_pin_refuses_wrong_model_wrong_folder_and_unset_alias(cli, tenants_file, overlay):
    model = f"{tenants_file[1]}-iris"
    before = (overlay / "model.env").read_text()
    assert cli("train", "--tenant", tenants_file[1]).code == 0

    other = cli("pin", "--model", "tenant-b-wine", "--alias", "staging", "--overlay", str(overlay))
    assert other.code == 2
    assert f"serves {model}, not tenant-b-wine" in other.err

    folder = cli("pin", "--model", model, "--alias", "staging", "--overlay", str(overlay.parent))
    assert folder.code == 2
    assert "expected a tenant folder" in folder.err

    unset = cli("pin", "--model", model, "--alias", "staging", "--overlay", str(overlay))
    assert unset.code == 2
    assert f"unknown alias 'staging' of {model}" in unset.err
    assert (overlay / "model.env").read_text() == before


def test_pin_restores_model_env_when_the_overlay_stops_rendering(cli, tenants_file, overlay):
    model = f"{tenants_file[1]}-iris"
    before = (overlay / "model.env").read_text()
    assert cli("train", "--tenant", tenants_file[1]).code == 0
    assert cli("promote", "--model", model, "--version", "1", "--alias", "staging").code == 0
    # The overlay's base is gone, so nothing this folder declares can render any more.
    shutil.rmtree(overlay.parents[3] / "base")

    failed = cli("pin", "--model", model, "--alias", "staging", "--overlay", str(overlay))
    assert failed.code == 1
    assert "no longer renders" in failed.err
    assert (overlay / "model.env").read_text() == before
