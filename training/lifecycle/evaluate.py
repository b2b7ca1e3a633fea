"""Score a model on the rows a version is evaluated on: the held-out split its training run
recorded (recreated from dataset, seed and test size), or, for a version registered from a
team's own code, the evaluation sample stored with it (team_sample.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.errors import OperationError
from training.lifecycle.datasets import Split, split

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

# MLmodel's metadata key naming the evaluation sample of a registered team model.
EVALUATION_SAMPLE = "evaluation_sample"


@dataclass(frozen=True)
class EvaluationRows:
    """The labelled rows two versions are compared on, and what they are, for messages."""

    x: pd.DataFrame
    y: pd.Series
    what: str  # "held-out rows" or "rows of the evaluation sample"


def scores(model: Any, x: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    """Accuracy and macro F1; log loss too when the model gives probabilities and knows every
    label of `y` (its columns are the model's own classes)."""
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    predicted = model.predict(x)
    found = {
        "accuracy": float(accuracy_score(y, predicted)),
        "f1_macro": float(f1_score(y, predicted, average="macro")),
    }
    classes = getattr(model, "classes_", None)
    if hasattr(model, "predict_proba") and classes is not None and set(y) <= set(classes):
        probabilities = np.asarray(model.predict_proba(x), dtype=np.float64)
        found["log_loss"] = float(log_loss(y, probabilities, labels=list(classes)))
    return found


def columns_of(x: pd.DataFrame, signature: Any) -> pd.DataFrame:
    """The held-out rows with the columns the model's signature names, in its order; both
    versions see the same rows even after an allowed schema change (KeyError if one is missing)."""
    inputs = getattr(signature, "inputs", None)
    names = inputs.input_names() if inputs is not None and inputs.has_input_names() else None
    if not names:
        return x
    missing = [n for n in names if n not in x.columns]
    if missing:
        raise KeyError(f"held-out data lacks columns {missing}")
    return x[names]


def training_params(client: MlflowClient, version: ModelVersion) -> dict[str, str]:
    if not version.run_id:
        raise OperationError(
            f"{version.name} version {version.version} has no training run, so its held-out "
            "data cannot be recreated"
        )
    return dict(client.get_run(version.run_id).data.params)


def held_out(client: MlflowClient, version: ModelVersion) -> Split:
    """The split the version's run used: same dataset, seed and test size."""
    params = training_params(client, version)
    missing = {"dataset", "split_seed", "test_size"} - params.keys()
    if missing:
        raise OperationError(
            f"{version.name} version {version.version}: run lacks params {sorted(missing)}; "
            "it was not trained with `python -m training train` nor registered with "
            "`python -m training register`"
        )
    return split(params["dataset"], int(params["split_seed"]), float(params["test_size"]))


def evaluation_rows(client: MlflowClient, version: ModelVersion) -> EvaluationRows:
    """What the quality gate scores `version` (and the version it would replace) on."""
    from mlflow.models import get_model_info

    metadata = get_model_info(f"models:/{version.name}/{version.version}").metadata or {}
    described = metadata.get(EVALUATION_SAMPLE)
    if isinstance(described, dict):
        return _stored_sample(version, described)
    data = held_out(client, version)
    return EvaluationRows(data.x_test, data.y_test, "held-out rows")


def _stored_sample(version: ModelVersion, described: dict[str, Any]) -> EvaluationRows:
    import mlflow.artifacts
    import pandas as pd

    from training.lifecycle.team_contract import InputColumn

    name, target = str(described.get("file", "")), str(described.get("target", ""))
    columns = [InputColumn(str(c["name"]), str(c["type"])) for c in described.get("columns", [])]
    if not name or "/" in name or not target or not columns:
        raise OperationError(
            f"{version.name} version {version.version}: MLmodel metadata.{EVALUATION_SAMPLE} "
            f"is incomplete: {described}"
        )
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{version.name}/{version.version}/{name}"
    )
    text = {c.name: str for c in columns if c.type == "string"}
    if described.get("target_type") == "string":
        text[target] = str
    frame = pd.read_csv(Path(local), dtype=text)
    features = frame[[c.name for c in columns]]
    return EvaluationRows(features, frame[target], "rows of the evaluation sample")


def load(name: str, version: str) -> Any:
    """The version as a classifier: scikit-learn's pickle, or a team's ONNX graph (a version
    with the `onnx` flavor only) run with onnxruntime as the service runs it."""
    import mlflow.sklearn
    from mlflow.models import get_model_info

    uri = f"models:/{name}/{version}"
    info = get_model_info(uri)
    if "sklearn" in info.flavors or "onnx" not in info.flavors:
        return mlflow.sklearn.load_model(uri)
    import mlflow.artifacts

    from training.lifecycle import team_onnx

    data = str(info.flavors["onnx"].get("data", "model.onnx"))
    local = mlflow.artifacts.download_artifacts(artifact_uri=f"{uri}/{data}")
    return team_onnx.from_metadata(Path(local).read_bytes(), (info.metadata or {})["onnx"])


def run_metrics(client: MlflowClient, version: ModelVersion) -> dict[str, float]:
    if not version.run_id:
        return {}
    return dict(client.get_run(version.run_id).data.metrics)
