"""The models of the multi-model section: distinct small classifiers, each registered as
training registers a version (scikit-learn flavor, the ONNX copy behind training's
equivalence gate, the drift reference), so the service answers each with onnxruntime, as it
would a tenant's models; and the v2 request of each."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.benchmarks.bench_models import Registered, log_with_onnx
from tests.benchmarks.v2_request import V2_INPUT
from training.rollout.mlflow_rest import MlflowRest

# Model i has FIRST_FEATURE_COUNT + i input columns and is fitted on data drawn with seed i, so
# no two models share a graph, a signature or weights.
FIRST_FEATURE_COUNT = 4
TRAINING_ROWS = 300
CLASSES = 3
# make_classification needs CLASSES x 2 clusters <= 2 ** informative columns.
INFORMATIVE_COLUMNS = 3
NAME_PREFIX = "bench-fleet"


@dataclass(frozen=True)
class FleetModel:
    index: int
    registered: Registered

    @property
    def name(self) -> str:
        return self.registered.name

    @property
    def features(self) -> int:
        return FIRST_FEATURE_COUNT + self.index


def model_name(index: int) -> str:
    return f"{NAME_PREFIX}-{index:02d}"


def fleet_frame(index: int) -> tuple[Any, Any]:
    """(features, target) of model `index`: columns f00, f01, ..."""
    import pandas as pd
    from sklearn.datasets import make_classification

    columns = FIRST_FEATURE_COUNT + index
    values, target = make_classification(
        n_samples=TRAINING_ROWS,
        n_features=columns,
        n_informative=INFORMATIVE_COLUMNS,
        n_redundant=0,
        n_classes=CLASSES,
        random_state=index,
    )
    frame = pd.DataFrame(values, columns=[f"f{c:02d}" for c in range(columns)])
    return frame, pd.Series(target)


def fit(index: int) -> tuple[Any, Any, Any]:
    """(pipeline, features, target): StandardScaler + LogisticRegression, as the iris model."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, target = fleet_frame(index)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    return pipeline.fit(features, target), features, target


def drift_reference(pipeline: Any, features: Any, target: Any) -> dict[str, Any]:
    """The version's drift reference as training builds one (importance on the same rows:
    there is no held-out split here)."""
    from training.lifecycle import reference_stats
    from training.settings import DriftSettings

    importance = reference_stats.importances(pipeline, features, target, 0)
    predicted = pipeline.predict(features)
    return reference_stats.build(
        features, predicted, list(pipeline.classes_), importance, DriftSettings(), 0
    )


def register_fleet(tracking_uri: str, count: int, alias: str) -> list[FleetModel]:
    """Fit and register `count` models, each version on `alias` (the alias models.yaml names)."""
    rest = MlflowRest(tracking_uri)
    fleet = []
    for index in range(count):
        pipeline, features, target = fit(index)
        reference = drift_reference(pipeline, features, target)
        registered = log_with_onnx(tracking_uri, model_name(index), pipeline, features, reference)
        rest.set_alias(registered.name, alias, registered.version)
        fleet.append(FleetModel(index, registered))
    return fleet


def first_row(index: int) -> list[float]:
    features, _ = fleet_frame(index)
    return [float(value) for value in features.iloc[0]]


def v2_body(index: int) -> str:
    """One [1, n_features] FP64 tensor: model `index`'s first training row."""
    row = first_row(index)
    tensor = {"name": V2_INPUT, "shape": [1, len(row)], "datatype": "FP64", "data": row}
    return json.dumps({"inputs": [tensor]})
