"""The ONNX export and its equivalence gate, without a server: the comparison on its own, then
export() on real fitted pipelines, a planted disagreement, and what it cannot convert."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from training.errors import UsageError
from training.lifecycle import onnx_export
from training.lifecycle.datasets import Split, split
from training.lifecycle.estimators import build
from training.lifecycle.onnx_export import Comparison, compare
from training.settings import Settings

pytestmark = [
    # SVC(probability=True), the repository's `svc` estimator, is deprecated in scikit-learn 1.9.
    pytest.mark.filterwarnings("ignore:The `probability` parameter:FutureWarning"),
    pytest.mark.filterwarnings("ignore:Attribute `prob:FutureWarning"),
    pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer"),
]


# --- the comparison -----------------------------------------------------------------------------

PROBABILITIES = [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1]]


def test_identical_outputs_compare_equal() -> None:
    result = compare([0, 1], PROBABILITIES, np.array([0, 1]), np.float32(PROBABILITIES))
    assert (result.rows, result.label_mismatches) == (2, 0)
    # float32 rounding of the same numbers is all that differs.
    assert 0 < result.worst_difference < 1e-7
    assert result.passed(1e-5)


def test_worst_difference_is_the_largest_absolute_one() -> None:
    onnx = np.array(PROBABILITIES) + np.array([[0.0, 2e-6, -2e-6], [-3e-5, 3e-5, 0.0]])
    result = compare([0, 1], PROBABILITIES, [0, 1], onnx)
    assert result.worst_difference == pytest.approx(3e-5)
    assert not result.passed(1e-5)
    assert result.passed(3.1e-5)


def test_tolerance_is_inclusive_and_zero_tolerates_only_exact_equality() -> None:
    exact = compare([0, 1], PROBABILITIES, [0, 1], PROBABILITIES)
    assert exact.worst_difference == 0.0
    assert exact.passed(0.0)
    assert Comparison(2, 0, 1e-5).passed(1e-5)
    assert not Comparison(2, 0, 1e-5).passed(0.0)


def test_any_label_difference_fails_whatever_the_probabilities() -> None:
    result = compare([0, 1, 2], [[1, 0, 0]] * 3, [0, 2, 1], [[1, 0, 0]] * 3)
    assert result.label_mismatches == 2
    assert not result.passed(0.5)
    assert result.describe(1e-5) == (
        "labels differ on 2 of 3 rows, largest probability difference 0 (tolerance 1e-05)"
    )


def test_labels_of_other_types_compare_as_values() -> None:
    assert compare(["a", "b"], [[1, 0]] * 2, np.array(["a", "b"]), [[1, 0]] * 2).passed(0)
    assert compare([0, 1], [[1, 0]] * 2, ["0", "1"], [[1, 0]] * 2).label_mismatches == 2


@pytest.mark.parametrize(
    "onnx",
    [
        [[math.nan, 0.1, 0.0], [0.2, 0.7, 0.1]],  # NaN never passes, whatever the tolerance
        [[0.9, 0.1], [0.2, 0.7]],  # a class missing
    ],
)
def test_outputs_that_cannot_be_compared_count_as_infinitely_different(onnx: Any) -> None:
    result = compare([0, 1], PROBABILITIES, [0, 1], onnx)
    assert result.worst_difference == math.inf
    assert not result.passed(0.99)


def test_row_count_mismatch_fails_every_row() -> None:
    result = compare([0, 1], PROBABILITIES, [0], PROBABILITIES[:1])
    assert (result.label_mismatches, result.worst_difference) == (2, math.inf)


def test_comparisons_add_up_over_batches() -> None:
    total = Comparison(38, 0, 2e-7) + Comparison(3, 1, 5e-8)
    assert total == Comparison(41, 1, 2e-7)
    assert onnx_export.NO_ROWS + total == total


def test_passed_detail_reads_as_the_contract_shows() -> None:
    assert Comparison(41, 0, 2.4e-07).describe(1e-5) == (
        "labels identical on 41 rows, largest probability difference 2.4e-07 (tolerance 1e-05)"
    )


# --- the tolerance setting ----------------------------------------------------------------------


def test_onnx_tolerance_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAINING_ONNX_TOLERANCE", raising=False)
    assert Settings.from_env().onnx_tolerance == 1e-5
    monkeypatch.setenv("TRAINING_ONNX_TOLERANCE", "0")
    assert Settings.from_env().onnx_tolerance == 0.0
    for bad in ("-1e-6", "1", "tiny"):
        monkeypatch.setenv("TRAINING_ONNX_TOLERANCE", bad)
        with pytest.raises(UsageError, match="TRAINING_ONNX_TOLERANCE"):
            Settings.from_env()


# --- export() on fitted pipelines ---------------------------------------------------------------


@pytest.fixture(scope="module")
def iris() -> Split:
    return split("iris", 42, 0.25)


def _signature(x: Any, y: Any) -> Any:
    from mlflow.models import infer_signature

    return infer_signature(x, y)


def _export(pipeline: Any, data: Split, tolerance: float = 1e-5) -> onnx_export.Export:
    pipeline.fit(data.x_train, data.y_train)
    signature = _signature(data.x_train, pipeline.predict(data.x_train))
    example = data.x_train.head(3)
    return onnx_export.export(pipeline, signature, data.x_test, example, tolerance)


@pytest.mark.parametrize("estimator", ["logistic_regression", "random_forest", "svc", "knn"])
def test_gate_passes_on_iris(estimator: str, iris: Split) -> None:
    exported = _export(build(estimator, 42), iris)
    assert exported.outcome == "passed", exported.detail
    rows = len(iris.x_test) + 3
    assert exported.detail.startswith(f"labels identical on {rows} rows")
    assert exported.comparison is not None
    assert exported.comparison.worst_difference <= 1e-5
    assert exported.model


def test_passed_metadata_is_the_service_contract(iris: Split) -> None:
    import onnxruntime

    exported = _export(build("logistic_regression", 42), iris)
    meta = exported.metadata
    assert set(meta) == {
        "outcome", "detail", "opset", "input", "outputs", "classes", "expected",
    }  # fmt: skip
    assert meta["outcome"] == "passed"
    assert 1 <= meta["opset"] <= onnx_export.TARGET_OPSET
    assert meta["input"] == {
        "name": "input",
        "type": "float32",
        "columns": ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"],
    }
    assert meta["outputs"] == {"label": "label", "probabilities": "probabilities"}
    assert meta["classes"] == [0, 1, 2]
    # Plain JSON values all the way down: MLmodel is written with yaml.safe_dump.
    import yaml

    assert yaml.safe_load(yaml.safe_dump(meta)) == meta

    session = onnxruntime.InferenceSession(exported.model, providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(
        ["label", "probabilities"], {"input": iris.x_train.head(3).to_numpy(np.float32)}
    )
    assert meta["expected"] == {"labels": labels.tolist(), "probabilities": probabilities.tolist()}


def test_a_planted_disagreement_fails_the_gate(
    iris: Split, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The converted model answers with its classes out of order, as a wrong conversion would."""
    real = onnx_export.new_session

    class Swapped:
        def __init__(self, payload: bytes) -> None:
            self.session = real(payload)

        def run(self, names: list[str], feeds: dict[str, Any]) -> list[Any]:
            labels, probabilities = self.session.run(names, feeds)
            return [labels, probabilities[:, ::-1]]

    monkeypatch.setattr(onnx_export, "new_session", Swapped)
    exported = _export(build("logistic_regression", 42), iris)
    assert exported.outcome == "failed"
    assert exported.model is None
    assert exported.metadata == {"outcome": "failed", "detail": exported.detail}
    assert exported.comparison is not None
    assert exported.comparison.worst_difference > 0.5
    assert "largest probability difference" in exported.detail


def test_zero_tolerance_fails_on_float32_rounding_alone(iris: Split) -> None:
    exported = _export(build("logistic_regression", 42), iris, tolerance=0.0)
    assert exported.outcome == "failed"
    assert exported.detail.startswith("labels identical on 41 rows, largest probability")
    assert exported.detail.endswith("(tolerance 0)")


def test_a_function_transformer_is_unsupported_with_the_reason(iris: Split) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    pipeline = make_pipeline(FunctionTransformer(np.log1p), LogisticRegression(max_iter=1000))
    exported = _export(pipeline, iris)
    assert exported.outcome == "unsupported"
    assert exported.detail.startswith("skl2onnx cannot convert the pipeline: RuntimeError: ")
    assert "FunctionTransformer is not supported" in exported.detail
    assert exported.metadata == {"outcome": "unsupported", "detail": exported.detail}
    assert exported.model is None


def test_an_estimator_without_a_converter_is_unsupported(iris: Split) -> None:
    exported = _export(build("dummy", 42), iris)
    assert exported.outcome == "unsupported"
    assert "DummyClassifier" in exported.detail


def test_a_regressor_is_unsupported(iris: Split) -> None:
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline

    exported = _export(make_pipeline(LinearRegression()), iris)
    assert exported.outcome == "unsupported"
    assert "LinearRegression is not a classifier with predict_proba" in exported.detail


def test_a_non_numeric_signature_is_unsupported(iris: Split) -> None:
    pipeline = build("logistic_regression", 42).fit(iris.x_train, iris.y_train)
    x = iris.x_train.assign(colour="red")
    exported = onnx_export.export(
        pipeline, _signature(x, iris.y_train), iris.x_test, iris.x_train.head(3), 1e-5
    )
    assert exported.outcome == "unsupported"
    assert exported.detail.startswith("non-numeric signature: colour (string)")


def test_export_never_raises(iris: Split) -> None:
    signature = _signature(iris.x_train, iris.y_train)
    exported = onnx_export.export(object(), signature, iris.x_test, iris.x_train.head(3), 1e-5)
    assert exported.outcome == "unsupported"
    assert exported.detail
    assert len(exported.detail) <= onnx_export.MAX_DETAIL


def test_the_gate_tolerance_is_part_of_the_fingerprint() -> None:
    """`up` reuses a version only if its ONNX copy would be decided the same way."""
    from dataclasses import replace

    from training.lifecycle.catalog import TenantModel
    from training.lifecycle.train import fingerprint

    settings = Settings.from_env()
    entry = TenantModel("t", "iris", "logistic_regression")
    assert fingerprint(entry, settings) != fingerprint(entry, replace(settings, onnx_tolerance=0))
