"""Versions carrying an ONNX copy that passed training's gate are served by onnxruntime, with
the same answers, without scikit-learn in the serving process; anything else falls back to the
pickle, and an ONNX copy that no longer reproduces its recorded outputs is never served."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from inference.models.loader import load_version
from inference.models.model import ModelCheckError
from inference.models.registry import Registry
from inference.models.schema import InputError
from tests.support.models import iris_forest, iris_logistic, log_and_register
from tests.support.servers import start_service
from training.local_platform.registry_server import RegistryServer

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def onnx_version(registry: RegistryServer) -> tuple[str, str]:
    estimator, features = iris_forest()
    return "svc-onnx", log_and_register(
        registry.url, "svc-onnx", estimator, features, alias="staging", onnx=True
    )


def test_served_by_onnxruntime_with_scikit_learns_answers(
    registry: RegistryServer, onnx_version: tuple[str, str], tmp_path: Path
) -> None:
    name, version = onnx_version
    estimator, features = iris_forest()
    service = start_service(
        {"MODEL_URI": f"models:/{name}@staging", "MLFLOW_TRACKING_URI": registry.url}, tmp_path
    )
    try:
        info = service.get("/model/info").json()
        assert (info["runtime"], info["version"]) == ("onnx", version)
        rows = features.head(20).values.tolist()
        answer = service.post("/predict", rows).json()
        assert answer["predictions"] == estimator.predict(features.head(20)).tolist()
        expected = estimator.predict_proba(features.head(20))
        worst = max(
            abs(a - b) for got, want in zip(answer["probabilities"], expected, strict=True)
            for a, b in zip(got, want, strict=True)
        )  # fmt: skip
        assert worst < 1e-5
        metrics = service.get("/metrics").text
        assert f'inference_model_info{{alias="staging",model="{name}",runtime="onnx"' in metrics
    finally:
        service.stop()
    (cache,) = tmp_path.glob("cache-*")
    assert sorted(p.name for p in (cache / name / version).iterdir()) == [
        "MLmodel",
        "input_example.json",
        "model.onnx",  # the pickle is not even downloaded
    ]


def test_the_serving_process_never_imports_scikit_learn(
    registry: RegistryServer, onnx_version: tuple[str, str], tmp_path: Path
) -> None:
    name, version = onnx_version
    probe = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "import inference.api.app\n"
        "from inference.models.loader import load_version\n"
        "from inference.models.registry import Registry\n"
        f"model = load_version(Registry({registry.url!r}), {name!r}, {version!r}, None, None,"
        f" Path({str(tmp_path)!r}))\n"
        "model.predict(model.input_example)\n"
        "print(json.dumps({'runtime': model.runtime,"
        " 'sklearn': sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy',"
        " 'pandas', 'mlflow'))}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO_ROOT / "service"), "PATH": "/usr/bin:/bin"},
    )
    assert json.loads(result.stdout.splitlines()[-1]) == {"runtime": "onnx", "sklearn": []}


def test_model_runtime_sklearn_serves_the_pickle(
    registry: RegistryServer, onnx_version: tuple[str, str], tmp_path: Path
) -> None:
    name, version = onnx_version
    model = load_version(Registry(registry.url), name, version, None, None, tmp_path, "sklearn")
    assert model.runtime == "sklearn"


def test_numbers_beyond_float32_are_refused_not_fed_as_infinity(
    registry: RegistryServer, onnx_version: tuple[str, str], tmp_path: Path
) -> None:
    """onnxruntime takes the rows as float32: 1e300 would reach the forest as infinity, which
    it scores like any large value. The pickle takes float64 and 1e300 as it is."""
    name, version = onnx_version
    row = [1e300, 3.5, 1.4, 0.2]
    onnx = load_version(Registry(registry.url), name, version, None, None, tmp_path)
    assert onnx.schema.model_float == "FP32"
    assert onnx.schema.allow_inf  # so the range is what stands between 1e300 and infinity
    with pytest.raises(InputError) as refused:
        onnx.schema.rows_from_lists([row], "body")
    assert refused.value.errors[0].message == "out of range: the model takes FP32"
    pickle = load_version(
        Registry(registry.url), name, version, None, None, tmp_path / "pickle", "sklearn"
    )
    assert pickle.schema.model_float == "FP64"
    assert pickle.schema.rows_from_lists([row], "body") == [row]


def test_a_version_without_an_onnx_copy_is_served_by_scikit_learn(
    registry: RegistryServer, tmp_path: Path
) -> None:
    estimator, features = iris_logistic()
    version = log_and_register(registry.url, "svc-no-onnx", estimator, features)
    model = load_version(Registry(registry.url), "svc-no-onnx", version, None, None, tmp_path)
    assert model.runtime == "sklearn"
    with pytest.raises(ModelCheckError, match="MODEL_RUNTIME=onnx, but this version"):
        load_version(
            Registry(registry.url), "svc-no-onnx", version, None, None, tmp_path / "x", "onnx"
        )


def test_an_onnx_copy_that_no_longer_reproduces_its_outputs_is_refused(
    registry: RegistryServer, onnx_version: tuple[str, str], tmp_path: Path
) -> None:
    name, version = onnx_version
    model = load_version(Registry(registry.url), name, version, None, None, tmp_path)
    folder = tmp_path / name / version
    meta = yaml.safe_load((folder / "MLmodel").read_text())
    expected = meta["metadata"]["onnx"]["expected"]
    expected["probabilities"][0] = [p + 0.01 for p in expected["probabilities"][0]]
    (folder / "MLmodel").write_text(yaml.safe_dump(meta))
    # Loaded as it is on disk, without the registry: its recorded file digests would refuse
    # the changed MLmodel before the self-check runs (test_loader.py).
    with pytest.raises(ModelCheckError, match=r"differ by 0\.01 from the ones recorded"):
        load_version(None, name, version, None, None, tmp_path)
    assert model.runtime == "onnx"
