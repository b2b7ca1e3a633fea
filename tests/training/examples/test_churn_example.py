"""The team example (training/examples/churn/): its data file is what its generator writes,
and its training script, run as a team runs it, registers `tenant-a-churn` against a real
MLflow server; promoted, the inference service answers a record with the categorical
columns."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.servers import REPO_ROOT, start_service

EXAMPLE = REPO_ROOT / "training" / "examples" / "churn"


def example_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"churn_{name}", EXAMPLE / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_data_file_is_what_its_generator_writes(tmp_path: Path) -> None:
    import pandas as pd

    data = example_module("make_data")
    regenerated = tmp_path / "customers.csv"
    data.customers().to_csv(regenerated, index=False)
    assert regenerated.read_bytes() == (EXAMPLE / "customers.csv").read_bytes()
    frame = data.customers()
    assert 100 <= len(frame) <= 5000
    assert pd.api.types.is_string_dtype(frame["plan"])
    assert pd.api.types.is_integer_dtype(frame["tenure_months"])
    assert set(frame["churned"]) == {"yes", "no"}


@pytest.mark.integration
def test_the_script_registers_tenant_a_churn_and_the_service_answers(
    registry, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": registry.url,
        "PYTHONPATH": str(REPO_ROOT),
        "TRAINING_TENANTS_FILE": str(REPO_ROOT / "training" / "tenants.yaml"),
    }
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        env.pop(name, None)
    run = subprocess.run(
        [sys.executable, str(EXAMPLE / "train.py")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    line = next(x for x in run.stdout.splitlines() if x.startswith("registered tenant-a-churn"))
    version = line.split()[3]
    # Text columns do not fit the platform's ONNX input (one float32 tensor): the pickle serves.
    assert "served by sklearn" in line
    assert "onnx unsupported: non-numeric signature: plan (string), region (string)" in line
    client = MlflowClient(registry.url)
    tags = client.get_model_version("tenant-a-churn", version).tags
    assert tags["dataset"] == "the sample"
    assert tags["estimator"] == "LogisticRegression"

    promote = subprocess.run(
        [sys.executable, "-m", "training", "promote", "--model", "tenant-a-churn",
         "--version", version, "--alias", "staging", "--reason", "example"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert promote.returncode == 0, promote.stderr

    service = start_service(
        {"MODEL_URI": "models:/tenant-a-churn@staging", "MLFLOW_TRACKING_URI": registry.url},
        tmp_path,
    )
    try:
        record = {
            "plan": "basic",
            "region": "south",
            "tenure_months": 2,
            "monthly_charges": 31.5,
            "support_calls": 4,
        }
        answer = service.post("/predict", record)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model"] == {"name": "tenant-a-churn", "version": version, "alias": "staging"}
        assert body["predictions"][0] in ("yes", "no")
        assert body["classes"] == ["no", "yes"]
        unknown_plan = service.post("/predict", {**record, "plan": "enterprise"})
        assert unknown_plan.status_code == 200  # OneHotEncoder(handle_unknown="ignore")
    finally:
        service.stop()
