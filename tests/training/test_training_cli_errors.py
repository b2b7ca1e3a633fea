"""The CLI as a user runs it: one line on stderr and the documented exit code, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from training.local_platform.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "training", *argv],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": f"{REPO_ROOT / 'service'}{os.pathsep}{REPO_ROOT}", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_unreachable_mlflow_is_one_line_naming_the_uri() -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    result = _run("status", MLFLOW_TRACKING_URI=uri)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert uri in lines[0]
    assert "not reachable" in lines[0]


def test_unknown_tenant_is_one_line_with_exit_2() -> None:
    result = _run("train", "--tenant", "tenant-zz")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "unknown tenant 'tenant-zz'; valid: tenant-a" in lines[0]


def test_bad_models_file_without_pythonpath_is_bad_input(tmp_path: Path) -> None:
    """As the docs type it, at the repository root with no PYTHONPATH: training still finds the
    models.yaml parser it shares with the service (service/inference/contracts/tenant_models.py)."""
    folder = tmp_path / "overlays" / "kind" / "tenants" / "tenant-x"
    folder.mkdir(parents=True)
    (folder / "kustomization.yaml").write_text("resources: []\n")
    (folder / "models.yaml").write_text(
        "apiVersion: ml-platform.example.com/v1alpha1\nkind: TenantModels\nmodels:\n"
        "  - {name: tenant-x-iris, alias: sta ging}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-m", "training", "unpin", "--overlay", str(folder), "--alias", "staging"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "models.yaml: models[0].alias (tenant-x-iris): alias 'sta ging'" in lines[0]
