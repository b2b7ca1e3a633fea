"""The churn team's own training script: pandas, a scikit-learn ColumnTransformer pipeline,
MLflow logging as the team always did, then the platform's one registration step.

Nothing above `register()` knows the platform: the team reads its CSV, fits and evaluates its
pipeline, and logs it with mlflow.sklearn (signature and input example included, MLflow's
default serialization). `training.register_model` then checks the logged model against the
platform's contract and registers it as a version of `<tenant>-churn`, with the test split as
its evaluation sample (docs/models.md, "The example: a team's churn model").

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 PYTHONPATH=. \\
        python training/examples/churn/train.py [--tenant tenant-a] [--no-register]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

DATA = Path(__file__).with_name("customers.csv")
TARGET = "churned"
CATEGORIES = ["plan", "region"]
NUMBERS = ["tenure_months", "monthly_charges", "support_calls"]
SEED = 7


def load_customers(path: Path = DATA) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(path)
    return frame[CATEGORIES + NUMBERS], frame[TARGET]


def churn_pipeline() -> Pipeline:
    columns = ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORIES),
            ("numbers", StandardScaler(), NUMBERS),
        ]
    )
    return Pipeline([("columns", columns), ("model", LogisticRegression(max_iter=1000))])


def train(experiment: str) -> tuple[str, pd.DataFrame]:
    """Fit, evaluate and log the pipeline; the logged model's URI and the test rows."""
    features, target = load_customers()
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=0.25, random_state=SEED, stratify=target
    )
    pipeline = churn_pipeline().fit(x_train, y_train)
    churn_probability = pipeline.predict_proba(x_test)[:, list(pipeline.classes_).index("yes")]
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name="churn-logistic-regression"):
        mlflow.log_params({"model": "logistic_regression", "test_size": 0.25, "seed": SEED})
        mlflow.log_metrics(
            {
                "test_accuracy": accuracy_score(y_test, pipeline.predict(x_test)),
                "test_roc_auc": roc_auc_score(y_test == "yes", churn_probability),
            }
        )
        logged = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            signature=infer_signature(x_train, pipeline.predict(x_train)),
            input_example=x_train.head(3),
        )
    return logged.model_uri, x_test.assign(**{TARGET: y_test})


def register(model_uri: str, test_rows: pd.DataFrame, tenant: str) -> None:
    """The platform's one step: contract check, ONNX gate, drift reference, quality gate."""
    from training import register_model

    registered = register_model(tenant, "churn", model_uri, test_rows, TARGET)
    print(
        f"registered {registered.model_name} version {registered.version} "
        f"(accuracy {registered.metrics['accuracy']:.3f} on {registered.sample_rows} rows, "
        f"served by {registered.runtime}, onnx {registered.onnx_gate}: {registered.onnx_detail})"
    )
    print(f"quality gate: {registered.gate}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the churn model and register it.")
    parser.add_argument("--tenant", default="tenant-a")
    parser.add_argument("--experiment", default="churn-team")
    parser.add_argument("--no-register", action="store_true", help="only train and log")
    args = parser.parse_args(argv)
    model_uri, test_rows = train(args.experiment)
    print(f"logged {model_uri}")
    if not args.no_register:
        register(model_uri, test_rows, args.tenant)
    return 0


if __name__ == "__main__":
    sys.exit(main())
