"""The pieces of `register` that need no server: reading a sample against a signature, the
ONNX graph the service can run, and the registered name."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.errors import UsageError
from training.lifecycle import team_onnx, team_sample
from training.lifecycle.register import model_name
from training.lifecycle.team_contract import InputColumn

COLUMNS = [InputColumn("zip", "string"), InputColumn("age", "long"), InputColumn("fee", "double")]


def read(tmp_path: Path, text: str, target: str = "label"):
    path = tmp_path / "sample.csv"
    path.write_text(text)
    frame, name, problems = team_sample.read(path, COLUMNS)
    assert problems == []
    assert frame is not None
    return team_sample.check(frame, name, COLUMNS, target)


def test_a_sample_is_read_with_the_signatures_types(tmp_path: Path) -> None:
    rows = "".join(f"0{i % 9},{20 + i},{i / 2},{'yes' if i % 2 else ''}\n" for i in range(70))
    features, labels, problems = read(tmp_path, "zip,age,fee,label\n" + rows)
    assert problems == []
    assert features is not None
    assert labels is not None
    assert features["zip"].tolist()[:2] == ["00", "01"]  # text stays text, zeros included
    assert str(features["age"].dtype) == "int64"
    assert str(features["fee"].dtype) == "float64"
    assert int(labels.notna().sum()) == 35  # empty targets: drift reference only


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("zip,age,fee,label\n01,1.5,2.0,yes\n", "column age (long) holds 1.5 (line 2)"),
        ("zip,age,fee,label\n01,,2.0,yes\n", "column age (long) has empty values"),
        ("zip,age,fee,label\n01,true,2.0,yes\n", "column age (long) holds true/false values"),
        ("zip,fee,label\n01,2.0,yes\n", "sample.csv lacks signature columns age"),
        ("zip,age,fee\n01,1,2.0\n", "sample.csv has no target column 'label'"),
        ("zip,age,fee,label\n01,1,2.0,yes\n", "sample.csv has 1 labelled rows"),
    ],
)
def test_a_bad_sample_names_its_problem(tmp_path: Path, body: str, expected: str) -> None:
    _, _, problems = read(tmp_path, body)
    assert any(expected in problem for problem in problems), problems


def test_labels_are_the_models_own_class_values() -> None:
    import pandas as pd

    labels = pd.Series(["1", "0", None, "1"], name="label")
    mapped, problems = team_sample.labels_as_classes(labels, [0, 1])
    assert problems == []
    assert mapped.tolist() == [1, 0, None, 1]
    _, unknown = team_sample.labels_as_classes(pd.Series(["2", "1"]), [0, 1])
    assert unknown == ["the target holds labels the model does not predict: 2 (its classes: 0, 1)"]


def _iris_graph(zipmap: bool):
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    from tests.support.models import iris_frame

    features, target = iris_frame()
    model = LogisticRegression(max_iter=500).fit(features, target)
    return convert_sklearn(
        model,
        initial_types=[("input", FloatTensorType([None, 4]))],
        target_opset=17,
        options={id(model): {"zipmap": zipmap}},
    ), features


IRIS = [
    InputColumn(n, "double") for n in ("sepal_length", "sepal_width", "petal_length", "petal_width")
]


def test_an_onnx_classifier_graph_is_described_as_the_service_runs_it() -> None:
    graph, features = _iris_graph(zipmap=False)
    described, problems = team_onnx.describe(graph, IRIS)
    assert problems == []
    assert described is not None
    assert described.classes == (0, 1, 2)
    assert (described.input_type, described.columns) == ("float32", tuple(c.name for c in IRIS))
    classifier = team_onnx.OnnxClassifier(graph.SerializeToString(), described)
    assert classifier.predict(features.head(1)).tolist() == [0]
    meta = classifier.metadata(features.head(3), "detail")
    assert meta["outcome"] == "passed"
    assert meta["expected"]["labels"] == [0, 0, 0]


def test_an_onnx_graph_the_service_cannot_read_is_refused() -> None:
    graph, _ = _iris_graph(zipmap=True)
    described, problems = team_onnx.describe(graph, IRIS)
    assert described is None
    assert any('options={"zipmap": False}' in p for p in problems), problems
    _, text = team_onnx.describe(
        _iris_graph(zipmap=False)[0], [*IRIS[:3], InputColumn("x", "string")]
    )
    assert any("numeric inputs only" in p for p in text), text


def test_the_registered_name_carries_the_tenant_and_follows_the_name_rules() -> None:
    assert model_name("tenant-a", "churn") == "tenant-a-churn"
    assert model_name("tenant-a", "tenant-a-churn") == "tenant-a-churn"
    with pytest.raises(UsageError, match="lowercase letters"):
        model_name("tenant-a", "Churn_Model")
