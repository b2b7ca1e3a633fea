"""scikit-learn's bundled datasets, with stable column names and a reproducible held-out split."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from training.errors import one_of

if TYPE_CHECKING:
    import pandas as pd

# dataset name -> name of the sklearn.datasets loader; loaders are imported lazily.
LOADERS = {
    "iris": "load_iris",
    "wine": "load_wine",
    "breast_cancer": "load_breast_cancer",
    "digits": "load_digits",
}


@dataclass(frozen=True)
class Split:
    x_train: pd.DataFrame
    x_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series
    class_names: list[str]


def column_name(feature: str) -> str:
    """A feature name the service can use as a JSON field: `sepal length (cm)` -> `sepal_length_cm`,
    `od280/od315_of_diluted_wines` -> `od280_od315_of_diluted_wines`."""
    name = re.sub(r"[^0-9a-z]+", "_", feature.strip().lower()).strip("_")
    if not name or name[0].isdigit():
        name = f"f_{name}"
    return name


def load(dataset: str) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """Features (float columns with sanitised names), integer target, class names."""
    if dataset not in LOADERS:
        raise one_of("dataset", dataset, list(LOADERS))
    import sklearn.datasets

    loader: Callable = getattr(sklearn.datasets, LOADERS[dataset])
    bunch = loader(as_frame=True)
    frame = bunch.data.astype("float64")
    columns = [column_name(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        raise ValueError(f"{dataset}: feature names collide after sanitising: {columns}")
    frame.columns = columns
    target = bunch.target.astype("int64").rename("target")
    return frame, target, [str(n) for n in bunch.target_names]


def split(dataset: str, seed: int, test_size: float) -> Split:
    """The held-out split every command recreates from (dataset, seed, test_size)."""
    from sklearn.model_selection import train_test_split

    features, target, class_names = load(dataset)
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=test_size, random_state=seed, stratify=target
    )
    return Split(x_train, x_test, y_train, y_test, class_names)
