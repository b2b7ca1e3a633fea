"""The scikit-learn runtime's load-time self-check, on real estimators (no registry needed)."""

import pytest

from inference.models.model import ModelCheckError
from inference.models.schema import Column, InputSchema
from inference.models.sklearn_model import SklearnModel
from tests.support.models import IRIS_COLUMNS, iris_forest, iris_logistic, text_pipeline


def served(estimator: object, features: object, schema: InputSchema) -> SklearnModel:
    example = features.head(3).values.tolist()  # type: ignore[attr-defined]
    model = SklearnModel("m", "1", "staging", schema, example, estimator=estimator)
    model.prepare()
    return model


IRIS_SCHEMA = InputSchema(tuple(Column(n, "double") for n in IRIS_COLUMNS))


@pytest.mark.parametrize("factory", [iris_logistic, iris_forest])
def test_numeric_model_uses_array_path_and_agrees_with_dataframe(factory: object) -> None:
    estimator, features = factory()  # type: ignore[operator]
    model = served(estimator, features, InputSchema(IRIS_SCHEMA.columns))
    assert model.to_input([[5.1, 3.5, 1.4, 0.2]]).__class__.__name__ == "ndarray"
    rows = features.sample(30, random_state=1).values.tolist()
    expected = estimator.predict(features.sample(30, random_state=1)).tolist()
    result = model.predict(rows)
    assert result.labels == expected
    assert model.classes == [0, 1, 2]
    assert len(result.probabilities[0]) == 3
    assert model.schema.allow_inf is False


def test_nan_acceptance_is_probed_not_assumed() -> None:
    # Trees in scikit-learn >= 1.4 handle missing values; a scaler + logistic model does not.
    logistic, features = iris_logistic()
    forest, _ = iris_forest()
    assert served(logistic, features, InputSchema(IRIS_SCHEMA.columns)).schema.allow_nan is False
    assert served(forest, features, InputSchema(IRIS_SCHEMA.columns)).schema.allow_nan is True


def test_text_model_keeps_dataframe_path() -> None:
    estimator, texts = text_pipeline()
    model = served(estimator, texts, InputSchema((Column("review", "string"),)))
    assert model.to_input([["fine"]]).__class__.__name__ == "DataFrame"
    assert model.predict([["great product"], ["awful and bad"]]).labels == ["positive", "negative"]


def test_model_that_fails_on_its_example_is_rejected() -> None:
    estimator, _ = iris_logistic()
    wrong = InputSchema((Column("a", "double"), Column("b", "double")))
    model = SklearnModel("m", "1", None, wrong, [[1.0, 2.0]], estimator=estimator)
    with pytest.raises(ModelCheckError, match="input example"):
        model.prepare()


def test_model_without_example_is_rejected() -> None:
    estimator, _ = iris_logistic()
    with pytest.raises(ModelCheckError, match="no input example"):
        SklearnModel("m", "1", None, IRIS_SCHEMA, [], estimator=estimator).prepare()
