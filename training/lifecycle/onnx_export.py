"""ONNX export of a fitted pipeline, kept only if it answers as the pipeline does (the gate).

The pipeline is converted with skl2onnx into one float32 input tensor and two outputs, the label
and the probability tensors, then run with onnxruntime on the held-out rows and on the input
example. Labels must be identical on every row and the largest absolute probability difference
within the tolerance (Settings.onnx_tolerance). The outcome, and for a passed gate everything the
service needs to run the ONNX model on its own, is what `Export.metadata` returns for MLmodel's
`metadata.onnx`; the ONNX bytes travel in the same model version
(training/lifecycle/onnx_flavor.py).

Nothing here raises: a pipeline that cannot be exported is `unsupported`, with the reason, and
still trains, registers and serves through scikit-learn.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import onnx
    import pandas as pd

# skl2onnx 1.20 tests its converters up to opset 22 (`skl2onnx.__max_supported_opset__`);
# onnxruntime 1.32 runs every opset from 7 up to the one it implements
# (onnxruntime.ai/docs/reference/compatibility.html), 28 (it refuses a model stamped 29), so 22
# is the newest both support. skl2onnx stamps the lowest opset the graph's operators need, at
# most this one (SVC's graph needs only 9).
TARGET_OPSET = 22
INPUT_NAME = "input"
# Signature column types float32 carries without changing what the pipeline sees (integers
# up to 2**24 are exact in float32).
NUMERIC_TYPES = frozenset({"double", "float", "long", "integer"})
# MLflow caps tag values at 8000 characters; a detail is read in a table, so far less.
MAX_DETAIL = 400

Outcome = Literal["passed", "failed", "unsupported"]


class Unsupported(Exception):
    """The pipeline cannot be exported to ONNX; the message says why."""


@dataclass(frozen=True)
class Comparison:
    """scikit-learn against ONNX on the same rows."""

    rows: int
    label_mismatches: int
    # Largest absolute probability difference; inf when the outputs cannot be compared
    # (NaN, or probability matrices of different shapes).
    worst_difference: float

    def __add__(self, other: Comparison) -> Comparison:
        return Comparison(
            self.rows + other.rows,
            self.label_mismatches + other.label_mismatches,
            max(self.worst_difference, other.worst_difference),
        )

    def passed(self, tolerance: float) -> bool:
        return self.label_mismatches == 0 and self.worst_difference <= tolerance

    def describe(self, tolerance: float) -> str:
        labels = (
            f"labels identical on {self.rows} rows"
            if self.label_mismatches == 0
            else f"labels differ on {self.label_mismatches} of {self.rows} rows"
        )
        return (
            f"{labels}, largest probability difference {self.worst_difference:.2g} "
            f"(tolerance {tolerance:g})"
        )


NO_ROWS = Comparison(0, 0, 0.0)


def compare(
    sklearn_labels: Any, sklearn_probabilities: Any, onnx_labels: Any, onnx_probabilities: Any
) -> Comparison:
    """The gate's measure: rows whose label differs, and the largest absolute probability
    difference (float64 arithmetic on both, so the difference is the float32 model's own)."""
    expected = np.asarray(sklearn_labels).ravel().tolist()
    got = np.asarray(onnx_labels).ravel().tolist()
    rows = len(expected)
    if len(got) != rows:
        mismatches = rows
    else:
        # Python scalars: numpy refuses to compare an int array with a str array element-wise.
        mismatches = sum(a != b for a, b in zip(expected, got, strict=True))
    before = np.asarray(sklearn_probabilities, dtype=np.float64)
    after = np.asarray(onnx_probabilities, dtype=np.float64)
    if before.shape != after.shape:
        return Comparison(rows, mismatches, math.inf)
    worst = float(np.max(np.abs(before - after), initial=0.0))
    return Comparison(rows, mismatches, math.inf if math.isnan(worst) else worst)


@dataclass(frozen=True)
class Export:
    outcome: Outcome
    detail: str
    # The serialized ONNX model: only when the gate passed.
    model: bytes | None = None
    # metadata.onnx beyond outcome and detail: only when the gate passed.
    description: dict[str, Any] = field(default_factory=dict)
    comparison: Comparison | None = None
    seconds: float = 0.0

    @property
    def metadata(self) -> dict[str, Any]:
        """MLmodel's `metadata.onnx`, the service's contract (plain JSON values only)."""
        return {"outcome": self.outcome, "detail": self.detail, **self.description}


def export(
    pipeline: Any,
    signature: Any,
    held_out: pd.DataFrame,
    example: pd.DataFrame,
    tolerance: float,
) -> Export:
    """Convert, run the gate, and say what happened; never raises."""
    started = time.perf_counter()
    try:
        result = _export(pipeline, signature, held_out, example, tolerance)
    except Unsupported as reason:
        result = Export("unsupported", _clip(str(reason)))
    except Exception as error:
        # Whatever else goes wrong (onnxruntime refusing the graph, a shape surprise) must not
        # cost the tenant its model: the version is registered without its ONNX copy.
        result = Export("unsupported", _clip(f"ONNX export failed: {_one_line(error)}"))
    return replace(result, seconds=time.perf_counter() - started)


def _export(
    pipeline: Any, signature: Any, held_out: pd.DataFrame, example: pd.DataFrame, tolerance: float
) -> Export:
    columns = numeric_columns(signature)
    _require_classifier(pipeline)
    model = convert(pipeline, len(columns))
    label_output, probability_output = output_names(model)
    payload = model.SerializeToString()
    session = new_session(payload)

    comparison = NO_ROWS
    onnx_outputs: list[Any] = []
    # The example runs as its own batch, as the service runs it for its self-check.
    for rows in (held_out[columns], example[columns]):
        onnx_outputs = session.run(
            [label_output, probability_output], {INPUT_NAME: rows.to_numpy(np.float32)}
        )
        comparison += compare(pipeline.predict(rows), pipeline.predict_proba(rows), *onnx_outputs)
    detail = comparison.describe(tolerance)
    if not comparison.passed(tolerance):
        return Export("failed", _clip(detail), comparison=comparison)
    example_labels, example_probabilities = onnx_outputs
    description = {
        "opset": stamped_opset(model),
        "input": {"name": INPUT_NAME, "type": "float32", "columns": list(columns)},
        "outputs": {"label": label_output, "probabilities": probability_output},
        "classes": np.asarray(pipeline.classes_).tolist(),
        "expected": {
            "labels": np.asarray(example_labels).ravel().tolist(),
            "probabilities": np.asarray(example_probabilities).tolist(),
        },
    }
    return Export("passed", detail, payload, description, comparison)


def numeric_columns(signature: Any) -> list[str]:
    """The signature's column names, in order, when every column is a number."""
    inputs = getattr(signature, "inputs", None)
    if inputs is None or inputs.is_tensor_spec() or not inputs.has_input_names():
        raise Unsupported("the signature has no named columns; ONNX export needs them")
    other = {
        str(spec.name): getattr(spec.type, "name", str(spec.type))
        for spec in inputs.inputs
        if getattr(spec.type, "name", None) not in NUMERIC_TYPES
    }
    if other:
        listed = ", ".join(f"{name} ({kind})" for name, kind in other.items())
        raise Unsupported(f"non-numeric signature: {listed}; the ONNX input is one float32 tensor")
    return [str(name) for name in inputs.input_names()]


def _require_classifier(pipeline: Any) -> None:
    from sklearn.base import is_classifier

    if not is_classifier(pipeline) or not hasattr(pipeline, "predict_proba"):
        raise Unsupported(
            f"{type(_final_step(pipeline)).__name__} is not a classifier with predict_proba; "
            "the gate compares labels and probabilities"
        )


def convert(pipeline: Any, n_features: int) -> onnx.ModelProto:
    """skl2onnx's `convert_sklearn` with one float32 input and `zipmap=False` on the classifier:
    the probabilities come out as a [rows, classes] tensor instead of a list of dictionaries
    (onnx.ai/sklearn-onnx/auto_tutorial/plot_dbegin_options_zipmap.html), which is what a
    client of onnxruntime can use without the class names and what the gate compares."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    try:
        return convert_sklearn(
            pipeline,
            initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
            target_opset=TARGET_OPSET,
            options={id(_final_step(pipeline)): {"zipmap": False}},
        )
    except Exception as error:
        raise Unsupported(f"skl2onnx cannot convert the pipeline: {_one_line(error)}") from error


def output_names(model: onnx.ModelProto) -> tuple[str, str]:
    """(label output, probability output), read from the graph: the probabilities are the float
    tensor, the label the other output (int64 or string, as the classes are). skl2onnx names
    them `label` and `probabilities` today, which nothing here relies on."""
    from onnx import TensorProto

    outputs = [(o.name, o.type.tensor_type.elem_type) for o in model.graph.output]
    probabilities = [name for name, kind in outputs if kind == TensorProto.FLOAT]
    labels = [name for name, kind in outputs if kind != TensorProto.FLOAT]
    if len(outputs) != 2 or len(probabilities) != 1:
        names = [name for name, _ in outputs]
        raise Unsupported(f"expected a label and a float probability output, the graph has {names}")
    return labels[0], probabilities[0]


def stamped_opset(model: onnx.ModelProto) -> int:
    """The ai.onnx opset the file declares, which a runtime must implement to load it."""
    return max(
        (int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0
    )


def new_session(payload: bytes) -> Any:
    """An onnxruntime session on one thread: results do not depend on how work is split
    across threads (intra-op threads parallelise inside an operator, e.g. the trees of a
    forest; onnxruntime.ai/docs/performance/tune-performance/threading.html), and training
    needs no speed from it."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        payload, sess_options=options, providers=["CPUExecutionProvider"]
    )


def _final_step(pipeline: Any) -> Any:
    steps = getattr(pipeline, "steps", None)
    return steps[-1][1] if steps else pipeline


def _one_line(error: BaseException) -> str:
    """`Type: first line`, and the same of its cause: skl2onnx wraps the real reason (e.g. an
    attribute onnx refuses) in a ValueError that dumps every attribute of the node."""

    def line(e: BaseException, limit: int) -> str:
        text = str(e).strip().splitlines()
        first = text[0] if text else ""
        if len(first) > limit:
            first = first[: limit - 3] + "..."
        return f"{type(e).__name__}: {first}" if first else type(e).__name__

    cause = error.__cause__
    if cause is None:
        return line(error, 240)
    return f"{line(error, 80)} (caused by {line(cause, 160)})"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."
