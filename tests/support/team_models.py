"""Models as a team's own training code logs them (plain mlflow.sklearn / mlflow.onnx /
mlflow.pyfunc calls, MLflow's defaults), and the samples it registers them with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CATEGORIES = ["plan"]
NUMBERS = ["tenure", "charges"]
TARGET = "churned"


def customers(rows: int = 400, seed: int = 3) -> Any:
    """A small churn table: a text column, an integer and a float one, a yes/no target that
    depends on them."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "pro", "team"], size=rows)
    tenure = rng.integers(1, 60, size=rows)
    charges = np.round(rng.normal(50.0, 12.0, size=rows), 2)
    logit = -0.5 + 1.2 * (plan == "basic") - 0.05 * tenure + 0.03 * (charges - 50)
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "plan": plan,
            "tenure": tenure,
            "charges": charges,
            TARGET: np.where(churned, "yes", "no"),
        }
    )


def churn_pipeline(estimator: Any = None) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORIES),
            ("numbers", StandardScaler(), NUMBERS),
        ]
    )
    return Pipeline([("columns", columns), ("model", estimator or LogisticRegression())])


def log_sklearn(
    tracking_uri: str,
    model: Any,
    features: Any,
    *,
    signature: bool = True,
    example: bool = True,
    experiment: str = "team-code",
    **options: Any,
) -> str:
    """mlflow.sklearn.log_model as a team calls it (`options`: more of its arguments); the
    logged model's URI (runs:/...)."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(features, model.predict(features)) if signature else False,
            input_example=features.head(3) if example else None,
            pip_requirements=["scikit-learn"],
            **options,
        )
    return f"runs:/{run.info.run_id}/model"


def log_pyfunc(tracking_uri: str, features: Any, experiment: str = "team-code") -> str:
    """A python_function model: arbitrary Python the service cannot run."""
    import mlflow
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return ["no"] * len(model_input)

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run() as run:
        mlflow.pyfunc.log_model(
            name="model",
            python_model=Echo(),
            signature=infer_signature(features, ["no"] * len(features)),
            input_example=features.head(3),
            pip_requirements=["pandas"],
        )
    return f"runs:/{run.info.run_id}/model"


def log_onnx(
    tracking_uri: str, model: Any, features: Any, *, zipmap: bool, experiment: str = "team-code"
) -> str:
    """A fitted numeric classifier converted with skl2onnx and logged with mlflow.onnx."""
    import mlflow
    import mlflow.onnx
    from mlflow.models import infer_signature
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    final = model.steps[-1][1] if hasattr(model, "steps") else model
    graph = convert_sklearn(
        model,
        initial_types=[("input", FloatTensorType([None, features.shape[1]]))],
        target_opset=17,
        options={id(final): {"zipmap": zipmap}},
    )
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run() as run:
        mlflow.onnx.log_model(
            graph,
            name="model",
            signature=infer_signature(features, model.predict(features)),
            input_example=features.head(3),
            pip_requirements=["onnxruntime"],
        )
    return f"runs:/{run.info.run_id}/model"


def write_sample(frame: Any, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path
