"""The contract a model logged by a team's own training code must meet to be registered.

Each rule returns the problems it finds as sentences that name what is missing or wrong and
how to fix it; `python -m training register` collects all of them before anything is written
and fails with every one (exit 2). What the service can serve decides the rules
(service/inference/models/loader.py and model_folder.py):

- a flavor the service runs: `sklearn` (a pickled estimator; the service image has no skops,
  so registration re-serializes with cloudpickle) or `onnx` (a graph the service runs with
  onnxruntime, described by MLmodel's `metadata.onnx`, which registration writes). A model
  with only `python_function` runs arbitrary Python the service does not have;
- a column-based signature with named inputs of the types the service validates requests
  against (inference.models.schema.SUPPORTED_TYPES): the request schema;
- an input example (a pandas DataFrame): every version self-checks on it before it serves;
- a classifier: the quality gate scores accuracy and macro F1, the rollout judge and the drift
  monitor compare predicted classes. Probabilities when it has predict_proba.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from inference.models.schema import SUPPORTED_TYPES
from training.errors import UsageError

SKLEARN = "sklearn"
ONNX = "onnx"
SERVED_FLAVORS = (SKLEARN, ONNX)
# How a team logs each kind, for the messages.
HOW_TO_LOG = "mlflow.sklearn.log_model(pipeline, ...) or mlflow.onnx.log_model(graph, ...)"
HOW_TO_SIGN = "signature=infer_signature(X_train, model.predict(X_train))"
HOW_TO_EXAMPLE = "input_example=X_train.head(3)"


class ContractError(UsageError):
    """The logged model or the sample does not meet the contract; every problem is listed."""

    def __init__(self, subject: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            f"{subject} cannot be registered: " + "; ".join(self.problems) + " (docs/models.md)"
        )


@dataclass(frozen=True)
class InputColumn:
    """One named input of the signature: what a request field and a sample column must be."""

    name: str
    type: str
    required: bool = True


def served_flavor(flavors: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(the flavor registration uses, problems). scikit-learn wins when a model has both."""
    for flavor in SERVED_FLAVORS:
        if flavor in flavors:
            return flavor, []
    found = ", ".join(sorted(flavors)) or "none"
    return None, [
        f"flavor {found} is not one the service runs: it loads scikit-learn pickles and ONNX "
        f"graphs, not custom python_function code; log the model with {HOW_TO_LOG}"
    ]


def signature_columns(signature: Any) -> tuple[list[InputColumn], list[str]]:
    """The signature's named input columns, and the problems that keep it from being the
    service's request schema."""
    inputs = getattr(signature, "inputs", None)
    if signature is None or inputs is None:
        return [], [f"no signature: log the model with {HOW_TO_SIGN}"]
    if inputs.is_tensor_spec() or not inputs.has_input_names():
        return [], [
            "the signature's inputs are not named columns (a tensor or unnamed schema): the "
            "service takes records keyed by column name; infer it from a pandas DataFrame "
            f"({HOW_TO_SIGN})"
        ]
    columns: list[InputColumn] = []
    unsupported: list[str] = []
    for spec in inputs.inputs:
        kind = getattr(spec.type, "name", None) or str(spec.type)
        if kind not in SUPPORTED_TYPES:
            unsupported.append(f"{spec.name} ({kind})")
            continue
        columns.append(InputColumn(str(spec.name), kind, bool(getattr(spec, "required", True))))
    if unsupported:
        return columns, [
            f"signature columns of types the service cannot take: {', '.join(unsupported)}; "
            f"it accepts {', '.join(sorted(SUPPORTED_TYPES))}"
        ]
    return columns, []


def input_example_problems(example: Any, columns: Sequence[InputColumn]) -> list[str]:
    """The example must be a DataFrame holding every signature column."""
    if example is None:
        return [f"no input example: log the model with {HOW_TO_EXAMPLE}"]
    frame_columns = getattr(example, "columns", None)
    if frame_columns is None:
        return [f"the input example is not a pandas DataFrame: log it with {HOW_TO_EXAMPLE}"]
    missing = [c.name for c in columns if c.name not in set(map(str, frame_columns))]
    if missing:
        return [f"the input example lacks signature columns {', '.join(missing)}"]
    if len(example) == 0:
        return [f"the input example has no rows: log it with {HOW_TO_EXAMPLE}"]
    return []


def classifier_problems(model: Any) -> list[str]:
    """A scikit-learn estimator must be a classifier that knows its classes."""
    from sklearn.base import is_classifier

    final = model.steps[-1][1] if hasattr(model, "steps") else model
    if not is_classifier(model) or getattr(model, "classes_", None) is None:
        return [
            f"{type(final).__name__} is not a fitted classifier with classes_: the quality gate "
            "scores accuracy and macro F1, and the rollout judge and drift monitoring compare "
            "predicted classes"
        ]
    return []
