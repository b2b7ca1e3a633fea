"""Score a model on held-out data, recreated from what the training run recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from training.errors import OperationError
from training.lifecycle.datasets import Split, split

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion


def scores(model: Any, x: pd.DataFrame, y: pd.Series, n_classes: int) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    predicted = model.predict(x)
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "f1_macro": float(f1_score(y, predicted, average="macro")),
        "log_loss": float(log_loss(y, model.predict_proba(x), labels=list(range(n_classes)))),
    }


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
            "it was not trained with `python -m training train`"
        )
    return split(params["dataset"], int(params["split_seed"]), float(params["test_size"]))


def load(name: str, version: str) -> Any:
    import mlflow.sklearn

    return mlflow.sklearn.load_model(f"models:/{name}/{version}")


def run_metrics(client: MlflowClient, version: ModelVersion) -> dict[str, float]:
    if not version.run_id:
        return {}
    return dict(client.get_run(version.run_id).data.metrics)
