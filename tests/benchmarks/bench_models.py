"""The two models of the issue, registered in the run's own MLflow, and their request bodies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.support.models import IRIS_COLUMNS, iris_frame, iris_logistic, log_and_register


def _random_forest() -> tuple[Any, Any]:
    from sklearn.ensemble import RandomForestClassifier

    features, target = iris_frame()
    return RandomForestClassifier(n_estimators=100, random_state=0).fit(features, target), features


BUILDERS: dict[str, Callable[[], tuple[Any, Any]]] = {
    "logistic_regression": iris_logistic,
    "random_forest": _random_forest,
}


def register(tracking_uri: str, model: str) -> str:
    """Fit and register `model`; return the `models:/<name>/<version>` both servers load."""
    estimator, features = BUILDERS[model]()
    name = f"bench-iris-{model.replace('_', '-')}"
    version = log_and_register(tracking_uri, name, estimator, features, experiment="benchmarks")
    return f"models:/{name}/{version}"


def invocations_body(rows: int) -> str:
    """A dataframe_split body of `rows` real iris rows, accepted by both servers."""
    features, _ = iris_frame()
    values = features.to_numpy().tolist()
    data = [values[i % len(values)] for i in range(rows)]
    return json.dumps({"dataframe_split": {"columns": IRIS_COLUMNS, "data": data}})
