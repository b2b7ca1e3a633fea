"""`train` exports the pipeline to ONNX and registers the ONNX model inside the same version only
when the equivalence gate passed, against the real `mlflow server` (artifacts proxied to S3).
What a version carries is read back as the service reads it: MLmodel and its folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from training.lifecycle import estimators

pytestmark = pytest.mark.integration

IRIS_COLUMNS = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]


def _log_logistic(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    # A Python function as a step: skl2onnx converts FunctionTransformer only as the identity.
    return make_pipeline(
        FunctionTransformer(np.log1p),
        StandardScaler(),
        LogisticRegression(max_iter=1000, random_state=seed),
    )


def _version(registry, model: str, version: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(registry.url).get_model_version(model, version)


def _folder(model: str, version: str, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """The registered version's model folder, downloaded, and its MLmodel."""
    import mlflow.artifacts

    local = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{model}/{version}", dst_path=str(tmp_path / "model")
        )
    )
    return local, yaml.safe_load((local / "MLmodel").read_text())


def _example(folder: Path) -> np.ndarray:
    example = json.loads((folder / "input_example.json").read_text())
    assert example["columns"] == IRIS_COLUMNS
    return np.asarray(example["data"], dtype=np.float32)


def _assert_pyfunc_serves(model: str, version: str) -> None:
    """mlflow.pyfunc (what `mlflow models serve` uses) loads the scikit-learn pipeline."""
    import mlflow.pyfunc

    from training.lifecycle.datasets import split

    loaded = mlflow.pyfunc.load_model(f"models:/{model}/{version}")
    assert loaded.metadata.flavors["python_function"]["loader_module"] == "mlflow.sklearn"
    data = split("iris", 42, 0.25)
    predicted = loaded.predict(data.x_test)
    assert len(predicted) == len(data.x_test)
    assert float(np.mean(np.asarray(predicted) == data.y_test.to_numpy())) > 0.8


@pytest.mark.parametrize("estimator", ["logistic_regression", "random_forest"])
def test_gate_passes_and_the_onnx_model_travels_in_the_version(
    estimator: str, cli, tenants_file, registry, tmp_path: Path
) -> None:
    import onnxruntime

    tenant = tenants_file[1]
    model = f"{tenant}-iris"
    trained = cli("train", "--tenant", tenant, "--estimator", estimator)
    assert trained.code == 0, trained.err
    registered = next(line for line in trained.out.splitlines() if model in line and "│" in line)
    assert "passed" in registered, trained.out
    assert "- onnx passed: labels identical on 41 rows" in trained.out

    tags = _version(registry, model, "1").tags
    assert tags["onnx_gate"] == "passed"
    assert tags["onnx_gate_detail"].startswith("labels identical on 41 rows, largest probability")

    folder, mlmodel = _folder(model, "1", tmp_path)
    flavors = mlmodel["flavors"]
    assert flavors["onnx"]["data"] == "model.onnx"
    assert flavors["onnx"]["providers"] == ["CPUExecutionProvider"]
    assert flavors["onnx"]["onnx_version"]
    assert flavors["onnx"]["code"] is None
    assert flavors["python_function"]["loader_module"] == "mlflow.sklearn"
    assert flavors["sklearn"]["serialization_format"] == "cloudpickle"
    assert (folder / "model.onnx").stat().st_size > 0

    meta = mlmodel["metadata"]["onnx"]
    assert meta["outcome"] == "passed"
    assert meta["detail"] == tags["onnx_gate_detail"]
    assert isinstance(meta["opset"], int)
    assert meta["input"] == {"name": "input", "type": "float32", "columns": IRIS_COLUMNS}
    assert meta["outputs"] == {"label": "label", "probabilities": "probabilities"}
    assert meta["classes"] == [0, 1, 2]

    # The recorded outputs are the ONNX model's own on the input example, as saved.
    session = onnxruntime.InferenceSession(
        str(folder / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    labels, probabilities = session.run(
        [meta["outputs"]["label"], meta["outputs"]["probabilities"]],
        {meta["input"]["name"]: _example(folder)},
    )
    assert meta["expected"]["labels"] == labels.tolist()
    np.testing.assert_allclose(meta["expected"]["probabilities"], probabilities, rtol=0, atol=1e-7)

    _assert_pyfunc_serves(model, "1")

    status = cli("status")
    assert status.code == 0, status.err
    header = next(line for line in status.out.splitlines() if "tenant" in line)
    assert " onnx " in header
    rows = [line for line in status.out.splitlines() if model in line]
    assert rows
    assert all("passed" in row for row in rows), rows


def test_a_planted_gate_failure_registers_the_sklearn_flavor_only(
    cli, tenants_file, registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # float32 rounding alone exceeds a zero tolerance.
    monkeypatch.setenv("TRAINING_ONNX_TOLERANCE", "0")
    tenant = tenants_file[1]
    model = f"{tenant}-iris"
    trained = cli("train", "--tenant", tenant)
    assert trained.code == 0, trained.err
    assert "- onnx failed: labels identical on 41 rows" in trained.out

    tags = _version(registry, model, "1").tags
    assert tags["onnx_gate"] == "failed"
    detail = tags["onnx_gate_detail"]
    assert detail.endswith("(tolerance 0)")
    worst = float(detail.split("largest probability difference ")[1].split()[0])
    assert 0 < worst < 1e-5

    folder, mlmodel = _folder(model, "1", tmp_path)
    assert "onnx" not in mlmodel["flavors"]
    assert not (folder / "model.onnx").exists()
    assert mlmodel["metadata"]["onnx"] == {"outcome": "failed", "detail": detail}
    _assert_pyfunc_serves(model, "1")

    status = cli("status")
    assert any("failed" in row for row in status.out.splitlines() if model in row)


def test_an_unconvertible_step_still_trains_registers_and_serves(
    cli, tenants_file, registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(estimators.BUILDERS, "log_logistic", _log_logistic)
    tenant = tenants_file[1]
    model = f"{tenant}-iris"
    trained = cli("train", "--tenant", tenant, "--estimator", "log_logistic")
    assert trained.code == 0, trained.err
    assert "- onnx unsupported: skl2onnx cannot convert the pipeline" in trained.out

    tags = _version(registry, model, "1").tags
    assert tags["onnx_gate"] == "unsupported"
    assert "FunctionTransformer is not supported" in tags["onnx_gate_detail"]

    folder, mlmodel = _folder(model, "1", tmp_path)
    assert set(mlmodel["flavors"]) == {"python_function", "sklearn"}
    assert not (folder / "model.onnx").exists()
    assert mlmodel["metadata"]["onnx"] == {
        "outcome": "unsupported",
        "detail": tags["onnx_gate_detail"],
    }
    _assert_pyfunc_serves(model, "1")
