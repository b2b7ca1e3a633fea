"""Reading MLflow model folders without mlflow: real folders written by mlflow.sklearn."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from inference.models.model import ModelCheckError
from inference.models.model_folder import read_model_dir
from tests.support.models import IRIS_COLUMNS, iris_logistic, save_model_folder, text_pipeline

REPO_ROOT = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "service"), str(REPO_ROOT)])}


@pytest.fixture(scope="module")
def iris_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    estimator, features = iris_logistic()
    return save_model_folder(estimator, features, tmp_path_factory.mktemp("iris") / "model")


@pytest.fixture
def folder(iris_folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(iris_folder, tmp_path / "model"))


def edit_mlmodel(path: Path, change: Any) -> None:
    meta = yaml.safe_load((path / "MLmodel").read_text())
    change(meta)
    (path / "MLmodel").write_text(yaml.safe_dump(meta))


def test_reads_schema_example_and_estimator(folder: Path) -> None:
    estimator, schema, example = read_model_dir(folder)
    assert schema.names == IRIS_COLUMNS
    assert all(c.type == "double" for c in schema.columns)
    _, features = iris_logistic()
    assert example == features.head(3).values.tolist()
    assert estimator.predict(features.head(3)).tolist() == [0, 0, 0]


def test_serving_process_never_imports_mlflow(iris_folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(iris_folder, cache / "iris" / "1")  # cached: the registry is not asked
    program = (
        "import sys\n"
        "from pathlib import Path\n"
        "import inference.api.app\n"
        "from inference.models.loader import load_version\n"
        f"model = load_version(None, 'iris', '1', None, None, Path({str(cache)!r}))\n"
        "print(model.predict([[5.1, 3.5, 1.4, 0.2]]).labels)\n"
        "print(sorted(m for m in sys.modules if m == 'mlflow' or m.startswith('mlflow.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", program], env=ENV, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["[0]", "[]"]


def test_text_model_reads_and_predicts(tmp_path: Path) -> None:
    estimator, texts = text_pipeline()
    _, schema, example = read_model_dir(save_model_folder(estimator, texts, tmp_path / "text"))
    assert [(c.name, c.type) for c in schema.columns] == [("review", "string")]
    assert example == texts.head(3).values.tolist()


def test_records_example_is_reordered_to_the_signature(folder: Path) -> None:
    split = json.loads((folder / "input_example.json").read_text())
    records = [
        dict(zip(reversed(split["columns"]), reversed(row), strict=True)) for row in split["data"]
    ]
    (folder / "input_example.json").write_text(json.dumps(records))
    edit_mlmodel(folder, lambda m: m["saved_input_example_info"].update(pandas_orient="records"))
    _, _, example = read_model_dir(folder)
    assert example == split["data"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.pop("signature"), "no signature"),
        (lambda m: m.pop("saved_input_example_info"), "no input example"),
        (lambda m: m["flavors"].pop("sklearn"), "not a scikit-learn model"),
        (
            lambda m: m["flavors"]["sklearn"].update(serialization_format="joblib"),
            "unknown serialization_format 'joblib'",
        ),
        (
            lambda m: m["signature"].update(inputs='[{"type": "tensor", "tensor-spec": {}}]'),
            "column-based",
        ),
    ],
)
def test_unservable_folders_get_a_clear_error(folder: Path, change: Any, message: str) -> None:
    edit_mlmodel(folder, change)
    with pytest.raises(ModelCheckError, match=message):
        read_model_dir(folder)


def test_example_missing_a_signature_column_is_rejected(folder: Path) -> None:
    split = json.loads((folder / "input_example.json").read_text())
    split["columns"][0] = "something_else"
    (folder / "input_example.json").write_text(json.dumps(split))
    with pytest.raises(ModelCheckError, match="lacks signature columns"):
        read_model_dir(folder)


def test_skops_model_without_skops_names_the_fix(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit_mlmodel(folder, lambda m: m["flavors"]["sklearn"].update(serialization_format="skops"))
    monkeypatch.setitem(sys.modules, "skops", None)  # the service image has no skops
    monkeypatch.setitem(sys.modules, "skops.io", None)
    with pytest.raises(ModelCheckError, match=r"skops.*serialization_format='cloudpickle'"):
        read_model_dir(folder)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tracking-uri", "http://127.0.0.1:9", "models:/m@@x"], "model_uri: expected"),
        (["models:/m/1"], "--tracking-uri"),
    ],
)
def test_fetch_cli_rejects_bad_arguments_with_exit_2(args: list[str], message: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "inference.fetch", *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_fetch_cli_reports_an_unreachable_registry_with_exit_3(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            *[sys.executable, "-m", "inference.fetch"],
            *["--tracking-uri", "http://127.0.0.1:9", "models:/m@staging", str(tmp_path)],
        ],
        env={**ENV, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 3, out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("cannot resolve models:/m@staging: ")
    assert "Traceback" not in out.stderr
