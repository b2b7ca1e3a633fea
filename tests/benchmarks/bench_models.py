"""The two models of the benchmark, registered in the run's own MLflow as training registers
them (scikit-learn flavor, plus the ONNX copy when training's equivalence gate passes, plus the
drift reference), and their request bodies."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.models import (
    IRIS_COLUMNS,
    iris_frame,
    iris_logistic,
    iris_reference,
    log_and_register,
)

# training's default TRAINING_ONNX_TOLERANCE (training/settings.py)
ONNX_TOLERANCE = 1e-5


def _random_forest() -> tuple[Any, Any]:
    from sklearn.ensemble import RandomForestClassifier

    features, target = iris_frame()
    return RandomForestClassifier(n_estimators=100, random_state=0).fit(features, target), features


BUILDERS: dict[str, Callable[[], tuple[Any, Any]]] = {
    "logistic_regression": iris_logistic,
    "random_forest": _random_forest,
}


@dataclass(frozen=True)
class Registered:
    name: str
    version: str
    onnx: str  # the ONNX gate's outcome and detail, or why there is no ONNX copy
    # The drift reference the version carries (training/lifecycle/reference_stats.py).
    drift_reference: dict[str, Any] | None = None

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def log_with_onnx(
    tracking_uri: str,
    name: str,
    estimator: Any,
    features: Any,
    reference: dict[str, Any] | None = None,
) -> Registered:
    """What training/lifecycle/train.py does: Model.log with the flavor that adds model.onnx and the
    drift reference (so this service counts drift, as it does for every trained version).
    `reference`: the version's drift reference; an iris model's when not given."""
    import mlflow
    import mlflow.sklearn
    import sklearn
    from mlflow.models import Model, infer_signature

    from training.lifecycle import onnx_export, reference_stats
    from training.lifecycle.onnx_flavor import FLAVOR_NAME, SklearnWithOnnx

    signature = infer_signature(features, estimator.predict(features))
    example = features.head(3)
    exported = onnx_export.export(estimator, signature, features, example, ONNX_TOLERANCE)
    if reference is None:
        reference = iris_reference(estimator, features)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("benchmarks")
    with mlflow.start_run():
        info = Model.log(
            name="model",
            artifact_path=None,
            flavor=SklearnWithOnnx(
                exported.model, drift_reference=reference_stats.to_json(reference)
            ),
            flavor_name=FLAVOR_NAME,
            registered_model_name=name,
            metadata={
                "onnx": exported.metadata,
                "drift_reference": reference_stats.metadata(reference),
            },
            sk_model=estimator,
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
            signature=signature,
            input_example=example,
            # Explicit requirements: inferring them costs 10-15 s per model on a small machine.
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
        )
    onnx = f"ONNX gate {exported.outcome}: {exported.detail}"
    return Registered(name, str(info.registered_model_version), onnx, reference)


def register(tracking_uri: str, model: str) -> Registered:
    """Fit and register `model`; every server then loads the same `models:/<name>/<version>`."""
    estimator, features = BUILDERS[model]()
    name = f"bench-iris-{model.replace('_', '-')}"
    try:
        return log_with_onnx(tracking_uri, name, estimator, features)
    except ImportError as missing:  # training's ONNX export, or skl2onnx, not installed
        reference = iris_reference(estimator, features)
        version = log_and_register(
            tracking_uri,
            name,
            estimator,
            features,
            experiment="benchmarks",
            drift_reference=reference,
        )
        return Registered(name, version, f"no ONNX copy ({missing})", reference)


def register_candidate(tracking_uri: str, registered: Registered) -> Registered:
    """A second version of the model from the same logged model, as a retrain on the same data
    would give, registered in a fraction of a second (fitting, exporting and logging again
    takes seconds). The candidate then costs what the stable version costs per call, and
    agrees with it on every row."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    stable = client.get_model_version(registered.name, registered.version)
    source = str(stable.source)
    # MLflow 3 wants the logged model's id with a `models:/m-<id>` source.
    model_id = source.removeprefix("models:/") if source.startswith("models:/m-") else None
    created = client.create_model_version(registered.name, source, stable.run_id, model_id=model_id)
    return dataclasses.replace(registered, version=str(created.version))


def iris_rows(rows: int) -> list[list[float]]:
    """`rows` real iris rows (repeated past 150), in signature order."""
    features, _ = iris_frame()
    values = features.to_numpy().tolist()
    return [values[i % len(values)] for i in range(rows)]


def invocations_body(rows: int) -> str:
    """A dataframe_split body of `rows` real iris rows, accepted by both servers."""
    return json.dumps({"dataframe_split": {"columns": IRIS_COLUMNS, "data": iris_rows(rows)}})
