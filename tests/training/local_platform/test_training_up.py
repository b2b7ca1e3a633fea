"""`python -m training up --once` end to end: MLflow, training (and the team example's own script
for tenant-a-churn), promotion, one inference service per tenant of overlays/kind serving its
models.yaml, sample predictions per model on /models/<name>/predict and the v2 route, clean stop;
then a second run on the same state. Needs the inference service in service/
(`python -m inference`): without it this fails."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from training.errors import UsageError
from training.lifecycle.catalog import load_catalog
from training.lifecycle.overlays import cluster_tenants
from training.lifecycle.team_examples import load_examples
from training.local_platform.ports import free_port, is_free
from training.local_platform.up import plan
from training.settings import LocalPlatformSettings, Settings

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[3]


def test_the_inference_service_is_there() -> None:
    """`up` starts one per tenant; without it the tests below cannot pass, and this says why."""
    assert (REPO_ROOT / "service" / "inference" / "__main__.py").is_file()


def _free_range(count: int) -> int:
    for _ in range(50):
        first = free_port()
        if all(is_free(first + i) for i in range(count)) and first + count < 65535:
            return first
    raise RuntimeError("no free port range")


def _up(
    run_dir: Path, mlflow_port: int, base_port: int, prometheus_port: int = 0, judge_port: int = 0
) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("MLFLOW_S3_ENDPOINT_URL", "MLFLOW_TRACKING_URI", "TRAINING_TENANTS_FILE")
    }
    env.update(
        PYTHONPATH=f"{REPO_ROOT / 'service'}{os.pathsep}{REPO_ROOT}",
        UP_RUN_DIR=str(run_dir),
        UP_MLFLOW_PORT=str(mlflow_port),
        UP_BASE_PORT=str(base_port),
        UP_PROMETHEUS_PORT=str(prometheus_port),
        UP_SCRAPE_INTERVAL="1s",
        UP_JUDGE_PORT=str(judge_port),
    )
    return subprocess.run(
        [sys.executable, "-m", "training", "up", "--once"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in command:
            found.append(f"{proc.name}: {command}")
    return found


def declared(cluster: str = "kind") -> dict[str, list[str]]:
    """tenant -> the models its models.yaml declares on the cluster."""
    return {o.tenant: list(o.declaration().names) for o in cluster_tenants(cluster)}


def test_the_plan_serves_tenant_a_churn_through_its_example() -> None:
    """The plan holds every declared model, tenant-a-churn registered by the team example; a
    declared model nothing can register is refused before anything starts (the service would
    never be ready)."""
    settings, local = Settings.from_env(), LocalPlatformSettings.from_env()
    catalog, examples = load_catalog(settings.tenants_file), load_examples(settings.examples_file)
    planned = {t.tenant: t for t in plan(local, catalog, examples)}
    assert {t: [m.name for m in p.models] for t, p in planned.items()} == declared(local.cluster)
    churn = next(m for m in planned["tenant-a"].models if m.name == "tenant-a-churn")
    assert churn.example is not None
    assert churn.catalog is None
    assert str(churn.uri) == "models:/tenant-a-churn@staging"
    assert planned["tenant-a"].models_file.name == "models.yaml"
    with pytest.raises(UsageError, match="declares tenant-a-churn, which make up cannot register"):
        plan(local, catalog, {})


def test_up_once_serves_every_tenant_then_reuses_the_registry(tmp_path: Path) -> None:
    tenants = cluster_tenants("kind")
    assert tenants, "overlays/kind/tenants/ declares no tenant"
    run_dir = tmp_path / "run"
    mlflow_port, base_port, prometheus_port = free_port(), _free_range(len(tenants)), free_port()
    judge_port = free_port()

    first = _up(run_dir, mlflow_port, base_port, prometheus_port, judge_port)
    assert first.returncode == 0, first.stdout + first.stderr
    models = declared()
    assert "tenant-a-churn" in models["tenant-a"]
    for index, overlay in enumerate(tenants):
        for model in models[overlay.tenant]:
            row = next((line for line in first.stdout.splitlines() if f"│ {model} " in line), "")
            assert f"│ {overlay.tenant} " in row, first.stdout
            assert f"http://127.0.0.1:{base_port + index}/models/{model}" in row
            assert "rows -> [" in row
            # /v2/models/<name>/infer answered the same labels as /models/<name>/predict.
            assert row.rstrip().rstrip("│").rstrip().endswith("same"), row
            assert f"{model}: registered version 1" in first.stdout
    churn = next(line for line in first.stdout.splitlines() if "│ tenant-a-churn " in line)
    assert "'no'" in churn or "'yes'" in churn, churn
    assert "registered version 1 by training/examples/churn/train.py" in first.stdout
    # `up` waits until Prometheus has scraped every service (up == 1), not only until it started.
    assert (
        f"Prometheus at http://127.0.0.1:{prometheus_port} scraped all {len(tenants)} service(s)"
        in first.stdout
    )
    # The rollout judge runs beside Prometheus; the tenants with a policy are named.
    with_policy = [t.tenant for t in tenants if (t.path / "rollout.yaml").is_file()]
    assert f"tenants with a rollout policy: {', '.join(with_policy) or 'none'}" in first.stdout
    # Trained with their drift references, exported by the services, scraped by Prometheus.
    drift = next(line for line in first.stdout.splitlines() if "drift monitoring:" in line)
    assert all(f"{overlay.tenant} " in drift for overlay in tenants), drift
    assert "stopped all services and MLflow" in first.stdout
    # Nothing left behind: ports closed, no process still using the run folder.
    opened = [mlflow_port, prometheus_port, judge_port]
    opened += range(base_port, base_port + len(tenants))
    assert all(is_free(port) for port in opened)
    assert _processes_mentioning(str(run_dir)) == []

    second = _up(run_dir, mlflow_port, base_port)
    assert second.returncode == 0, second.stdout + second.stderr
    every_model = [m for names in models.values() for m in names]
    for model in every_model:
        assert f"{model}: version 1 matches code and data, reusing" in second.stdout
        assert f"{model}@staging: staging already points at version 1" in second.stdout
    with sqlite3.connect(run_dir / "mlflow" / "mlflow.db") as db:
        versions = db.execute("select name, count(*) from model_versions group by name").fetchall()
    assert sorted(versions) == sorted((m, 1) for m in every_model)


def test_up_names_a_busy_port_and_how_to_change_it(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = _up(tmp_path / "run", port, _free_range(4))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {port} (MLflow) is already in use" in lines[0]
    assert "--mlflow-port" in lines[0]
    assert "UP_MLFLOW_PORT" in lines[0]
