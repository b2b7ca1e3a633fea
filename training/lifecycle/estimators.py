"""The estimators a tenant can pick, each a scikit-learn Pipeline (scaled where it helps)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from training.errors import one_of

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


def _logistic_regression(seed: int) -> Pipeline:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))


def _random_forest(seed: int) -> Pipeline:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline

    # Trees split on thresholds, so scaling would change nothing.
    return make_pipeline(RandomForestClassifier(n_estimators=100, random_state=seed))


def _gradient_boosting(seed: int) -> Pipeline:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline

    return make_pipeline(HistGradientBoostingClassifier(random_state=seed))


def _svc(seed: int) -> Pipeline:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    # probability=True so log loss can be computed like for every other estimator.
    return make_pipeline(StandardScaler(), SVC(probability=True, random_state=seed))


def _knn(seed: int) -> Pipeline:
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5))


def _dummy(seed: int) -> Pipeline:
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import make_pipeline

    # A floor to compare against: always predicts the most frequent class.
    return make_pipeline(DummyClassifier(strategy="most_frequent", random_state=seed))


BUILDERS: dict[str, Callable[[int], Pipeline]] = {
    "logistic_regression": _logistic_regression,
    "random_forest": _random_forest,
    "gradient_boosting": _gradient_boosting,
    "svc": _svc,
    "knn": _knn,
    "dummy": _dummy,
}


def build(name: str, seed: int) -> Pipeline:
    if name not in BUILDERS:
        raise one_of("estimator", name, list(BUILDERS))
    return BUILDERS[name](seed)
