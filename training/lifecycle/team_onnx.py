"""A team's own ONNX classifier (logged with mlflow.onnx): what the service needs of its graph,
and the graph as a scikit-learn-like classifier for the scores, the gate and the drift
reference.

The service runs a version's ONNX graph (service/inference/models/onnx_model.py) when MLmodel's
`metadata.onnx` describes it: one 2-D float tensor input holding the signature's columns in
order, a label output and a float probability output (one column per class), the classes in
probability order, and the outputs on the input example that its self-check reproduces.
Training writes that description for the pipelines it converts itself (onnx_export.py); for a
team's graph registration reads it from the graph: the input, the two outputs (a graph
converted with skl2onnx's default ZipMap returns probabilities as a list of maps instead, which
the service cannot read: convert with `options={"zipmap": False}`), and the classes from the
`classlabels_ints` / `classlabels_strings` attribute every ai.onnx.ml classifier operator
carries (onnx.ai/onnx/operators, domain ai.onnx.ml: LinearClassifier, SVMClassifier,
TreeEnsembleClassifier).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from training.lifecycle.onnx_export import new_session, stamped_opset
from training.lifecycle.team_contract import InputColumn

if TYPE_CHECKING:
    import onnx
    import pandas as pd

CLASS_ATTRIBUTES = ("classlabels_ints", "classlabels_strings", "classlabels_int64s")
_NUMERIC_TYPES = {"double", "float", "long", "integer"}
HOW_TO_CONVERT = 'convert with skl2onnx options={"zipmap": False}'


@dataclass(frozen=True)
class OnnxGraph:
    """What the service needs to know to run the graph (metadata.onnx, without `expected`)."""

    input_name: str
    input_type: str  # float32 | float64
    columns: tuple[str, ...]
    label_output: str
    probability_output: str
    classes: tuple[Any, ...]
    opset: int


def describe(
    model: onnx.ModelProto, columns: Sequence[InputColumn]
) -> tuple[OnnxGraph | None, list[str]]:
    """The graph as the service would run it, or the problems that keep it from that."""
    from onnx import TensorProto

    problems: list[str] = []
    text = [f"{c.name} ({c.type})" for c in columns if c.type not in _NUMERIC_TYPES]
    if text:
        problems.append(
            f"an ONNX model is served with numeric inputs only, the signature has {', '.join(text)}"
        )
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    input_name = input_type = ""
    if len(inputs) != 1:
        problems.append(
            f"the ONNX graph has inputs {[i.name for i in inputs]}; the service feeds one 2-D "
            "float tensor holding the signature's columns in order"
        )
    else:
        tensor = inputs[0].type.tensor_type
        kinds = {TensorProto.FLOAT: "float32", TensorProto.DOUBLE: "float64"}
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
        input_name, input_type = inputs[0].name, kinds.get(tensor.elem_type, "")
        if not input_type:
            problems.append(f"the ONNX input {input_name!r} is not a float or double tensor")
        if len(dims) != 2 or dims[1] not in (None, len(columns)):
            problems.append(
                f"the ONNX input {input_name!r} has shape {dims}; expected [rows, "
                f"{len(columns)}] (one column per signature input)"
            )
    outputs = list(graph.output)
    tensors = [o for o in outputs if o.type.HasField("tensor_type")]
    floats = (TensorProto.FLOAT, TensorProto.DOUBLE)
    probabilities = [o.name for o in tensors if o.type.tensor_type.elem_type in floats]
    labels = [o.name for o in tensors if o.type.tensor_type.elem_type not in floats]
    if len(outputs) != 2 or len(tensors) != 2 or len(probabilities) != 1:
        problems.append(
            f"the ONNX graph's outputs are {[o.name for o in outputs]}; the service needs a "
            f"label tensor and one float probability tensor ({HOW_TO_CONVERT})"
        )
    classes, class_problem = _classes(model)
    if class_problem:
        problems.append(class_problem)
    if problems:
        return None, problems
    return OnnxGraph(
        input_name,
        input_type,
        tuple(c.name for c in columns),
        labels[0],
        probabilities[0],
        tuple(classes),
        stamped_opset(model),
    ), []


def _classes(model: onnx.ModelProto) -> tuple[list[Any], str | None]:
    from onnx import helper

    found: list[list[Any]] = []
    for node in model.graph.node:
        if node.domain != "ai.onnx.ml" or node.op_type == "ZipMap":
            continue
        for attribute in node.attribute:
            if attribute.name in CLASS_ATTRIBUTES:
                value = helper.get_attribute_value(attribute)
                found.append([v.decode() if isinstance(v, bytes) else int(v) for v in value])
    distinct = {tuple(classes) for classes in found}
    if len(distinct) == 1:
        return found[0], None
    if not distinct:
        return [], (
            "the ONNX graph has no ai.onnx.ml classifier operator with classlabels_ints or "
            "classlabels_strings, so which class each probability column is cannot be read"
        )
    return [], f"the ONNX graph's classifier operators disagree on the classes: {sorted(distinct)}"


class OnnxClassifier:
    """The graph behind scikit-learn's classifier interface: predict, predict_proba, classes_,
    score (accuracy), on a DataFrame with the signature's columns."""

    def __init__(self, payload: bytes, graph: OnnxGraph) -> None:
        self.graph = graph
        self.session = new_session(payload)
        self.classes_ = np.asarray(graph.classes)
        self._dtype = np.float32 if graph.input_type == "float32" else np.float64

    def _run(self, x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        features = x[list(self.graph.columns)].to_numpy(self._dtype)
        labels, probabilities = self.session.run(
            [self.graph.label_output, self.graph.probability_output],
            {self.graph.input_name: features},
        )
        return np.asarray(labels).ravel(), np.asarray(probabilities, dtype=np.float64)

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return self._run(x)[0]

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        return self._run(x)[1]

    def score(self, x: pd.DataFrame, y: Any) -> float:
        return float(np.mean(self.predict(x) == np.asarray(y)))

    def fit(self, *_: Any) -> OnnxClassifier:
        """Never called: scikit-learn's permutation_importance asks an estimator to have
        `fit` before it scores it (its parameter validation), and the graph is fitted."""
        raise NotImplementedError("an ONNX graph is already fitted")

    def metadata(self, example: pd.DataFrame, detail: str) -> dict[str, Any]:
        """MLmodel's `metadata.onnx` as the service reads it (the `passed` outcome is what
        makes the service run the graph)."""
        labels, probabilities = self._run(example)
        return {
            "outcome": "passed",
            "detail": detail,
            "opset": self.graph.opset,
            "input": {
                "name": self.graph.input_name,
                "type": self.graph.input_type,
                "columns": list(self.graph.columns),
            },
            "outputs": {
                "label": self.graph.label_output,
                "probabilities": self.graph.probability_output,
            },
            "classes": list(self.graph.classes),
            "expected": {"labels": labels.tolist(), "probabilities": probabilities.tolist()},
        }


def from_metadata(payload: bytes, described: dict[str, Any]) -> OnnxClassifier:
    """The classifier of a registered version, from the `metadata.onnx` it was logged with."""
    graph = OnnxGraph(
        str(described["input"]["name"]),
        str(described["input"].get("type", "float32")),
        tuple(str(c) for c in described["input"]["columns"]),
        str(described["outputs"]["label"]),
        str(described["outputs"]["probabilities"]),
        tuple(described.get("classes") or ()),
        int(described.get("opset", 0)),
    )
    return OnnxClassifier(payload, graph)
