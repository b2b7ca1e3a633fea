"""The Open Inference Protocol (v2) REST dialect of KServe, MLServer and Triton: request
tensors -> validated rows, and a prediction -> response tensors.

Inputs (kserve/open-inference-protocol, required_api.md "Inference Request JSON Object"):
either one tensor [N, F] holding the rows in signature order (a float or integer datatype when
the model takes numbers), or one tensor per signature column, named after it, of shape [N] or
[N, 1]. `data` is the tensor's elements in row-major order, flat or nested; every element must
lie in its datatype's range (number_ranges: 1e300 is not an FP32, 300 not an INT8).
Outputs follow MLServer's scikit-learn runtime, so its clients work unchanged
(SeldonIO/MLServer 1.7.1 runtimes/sklearn/mlserver_sklearn/sklearn.py): `predict` (the
labels, [N, 1]) unless the request names outputs, and `predict_proba` ([N, classes], FP64)
on request. Every mistake is a 400 naming the input or output and what was expected.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from inference.models.model import Prediction, ServedModel
from inference.models.number_ranges import (
    INTEGER_RANGES,
    NUMERIC_DATATYPES,
    describe,
    first_out_of_range,
)
from inference.models.schema import FieldError, InputError, InputSchema

PREDICT, PREDICT_PROBA = "predict", "predict_proba"
OUTPUTS = (PREDICT, PREDICT_PROBA)
_INTEGER_TYPES = set(INTEGER_RANGES)
_COLUMN_TYPES = {
    "double": set(NUMERIC_DATATYPES),
    "float": set(NUMERIC_DATATYPES),
    "long": _INTEGER_TYPES,
    "integer": _INTEGER_TYPES,
    "boolean": {"BOOL"},
    "string": {"BYTES"},
}
# The datatype a column is described with in model metadata.
_DESCRIBED_AS = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
}


def _bad(field: str, message: str, expected: str) -> InputError:
    return InputError([FieldError(field, message, expected)], status_code=400)


def _flat(data: Any, where: str) -> list[Any]:
    """A tensor's elements, row-major, from flat or nested lists."""
    if not isinstance(data, list):
        raise _bad(where, "not an array", "the tensor's elements as an array (flat or nested)")
    if list not in map(type, data):
        return data  # already flat (the usual request): one pass at C speed
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, list):
            stack.append(iter(item))
        else:
            out.append(item)
    return out


_END = object()


def _check_range(tensor: dict[str, Any], values: list[Any], where: str) -> None:
    """Every element within the range of the tensor's datatype: a value beyond it is the
    client's mistake, never cast into infinity or a wrapped integer."""
    datatype = tensor["datatype"]
    index = first_out_of_range(datatype, values)
    if index is not None:
        raise _bad(
            f"{where}.data",
            f"element {index} is not representable as {datatype}",
            describe(datatype),
        )


def _shape(tensor: dict[str, Any], where: str) -> list[int]:
    shape = tensor.get("shape")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise _bad(f"{where}.shape", f"got {shape!r}", "a list of non-negative integers")
    return shape


def _rank(tensor: dict[str, Any]) -> int:
    shape = tensor.get("shape")
    return len(shape) if isinstance(shape, list) else 0


def _tensor(payload: Any, index: int) -> dict[str, Any]:
    tensor = payload["inputs"][index]
    where = f"inputs[{index}]"
    if not isinstance(tensor, dict):
        raise _bad(where, "not an object", "an object with name, shape, datatype and data")
    for key in ("name", "datatype"):
        if not isinstance(tensor.get(key), str):
            raise _bad(f"{where}.{key}", f"got {tensor.get(key)!r}", "a string")
    return tensor


def requested_outputs(payload: dict[str, Any], has_proba: bool) -> list[str]:
    names = []
    for i, output in enumerate(payload.get("outputs") or []):
        name = output.get("name") if isinstance(output, dict) else None
        if name not in OUTPUTS or (name == PREDICT_PROBA and not has_proba):
            offered = [o for o in OUTPUTS if o != PREDICT_PROBA or has_proba]
            raise _bad(f"outputs[{i}].name", f"got {name!r}", f"one of {offered}")
        names.append(name)
    return names or [PREDICT]


def rows_from_request(payload: Any, schema: InputSchema, max_rows: int) -> list[list[Any]]:
    """The rows an inference request carries, in signature order, checked like any other."""
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise _bad("inputs", "missing", "an object with an `inputs` array of tensors")
    if not payload["inputs"]:
        raise _bad("inputs", "empty", "at least one tensor")
    tensors = [_tensor(payload, i) for i in range(len(payload["inputs"]))]
    # Named after a column: one tensor per column. Anything else: the rows as one matrix.
    per_column = tensors[0]["name"] in schema.names and not (
        len(tensors) == 1 and len(schema.columns) > 1 and _rank(tensors[0]) == 2
    )
    rows = (_rows_from_columns if per_column else _rows_from_matrix)(tensors, schema)
    if len(rows) > max_rows:
        raise _bad("inputs[0].shape", f"{len(rows)} rows", f"at most {max_rows} rows")
    if not rows:
        raise _bad("inputs[0].shape", "no rows", "at least one row")
    return schema.rows_from_lists(rows, "inputs")


@functools.cache
def _matrix_datatypes(column_types: tuple[str, ...]) -> frozenset[str]:
    """The datatypes one [N, F] tensor may have: those every column takes."""
    return frozenset(set.intersection(*(_COLUMN_TYPES[t] for t in column_types)))


def _rows_from_matrix(tensors: list[dict[str, Any]], schema: InputSchema) -> list[list[Any]]:
    if len(tensors) != 1:
        names = [t["name"] for t in tensors]
        raise _bad(
            "inputs",
            f"{len(tensors)} tensors {names}",
            f"one [N, {len(schema.columns)}] tensor, or one tensor per column {schema.names}",
        )
    tensor, width = tensors[0], len(schema.columns)
    shape = _shape(tensor, "inputs[0]")
    if len(shape) != 2 or shape[1] != width:
        raise _bad("inputs[0].shape", f"got {shape}", f"[N, {width}]: rows of {schema.names}")
    allowed = _matrix_datatypes(schema.column_types)
    if tensor["datatype"] not in allowed:
        raise _bad("inputs[0].datatype", f"got {tensor['datatype']!r}", f"one of {sorted(allowed)}")
    values = _flat(tensor.get("data"), "inputs[0].data")
    if len(values) != shape[0] * width:
        raise _bad(
            "inputs[0].data",
            f"{len(values)} elements",
            f"{shape[0] * width} for shape {shape}",
        )
    _check_range(tensor, values, "inputs[0]")
    return [values[i * width : (i + 1) * width] for i in range(shape[0])]


def _rows_from_columns(tensors: list[dict[str, Any]], schema: InputSchema) -> list[list[Any]]:
    by_name = {t["name"]: (i, t) for i, t in enumerate(tensors)}
    unknown = [n for n in by_name if n not in schema.names]
    missing = [c.name for c in schema.columns if c.required and c.name not in by_name]
    if unknown or missing or len(by_name) != len(tensors):
        problem = ", ".join(
            filter(None, [unknown and f"unknown {unknown}", missing and f"missing {missing}"])
        )
        raise _bad("inputs", problem or "a column given twice", f"one tensor per {schema.names}")
    columns: list[list[Any]] = []
    count: int | None = None
    for column in schema.columns:
        if column.name not in by_name:
            columns.append([])
            continue
        index, tensor = by_name[column.name]
        where = f"inputs[{index}]"
        shape = _shape(tensor, where)
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise _bad(f"{where}.shape", f"got {shape}", "[N] or [N, 1]: one value per row")
        if tensor["datatype"] not in _COLUMN_TYPES[column.type]:
            expected = sorted(_COLUMN_TYPES[column.type])
            raise _bad(f"{where}.datatype", f"got {tensor['datatype']!r}", f"one of {expected}")
        values = _flat(tensor.get("data"), f"{where}.data")
        if len(values) != shape[0]:
            raise _bad(f"{where}.data", f"{len(values)} elements", f"{shape[0]} (shape {shape})")
        _check_range(tensor, values, where)
        if count is not None and shape[0] != count:
            raise _bad(f"{where}.shape", f"{shape[0]} rows", f"{count}, like the other inputs")
        count = shape[0]
        columns.append(values)
    return [[col[i] if col else None for col in columns] for i in range(count or 0)]


def response(
    model: ServedModel, prediction: Prediction, outputs: list[str], request_id: Any
) -> dict[str, Any]:
    """The inference response: one tensor per requested output."""
    n = len(prediction.labels)
    tensors = []
    for name in outputs:
        if name == PREDICT_PROBA:
            probabilities = prediction.probabilities or []
            width = len(probabilities[0]) if probabilities else 0
            data: list[Any] = [p for row in probabilities for p in row]
            tensors.append({"name": name, "datatype": "FP64", "shape": [n, width], "data": data})
        else:
            labels = prediction.labels
            tensors.append(
                {"name": name, "datatype": _datatype(labels), "shape": [n, 1], "data": labels}
            )
    body: dict[str, Any] = {
        "model_name": model.name,
        "model_version": model.version,
        "outputs": tensors,
    }
    if isinstance(request_id, str):
        body["id"] = request_id
    return body


def _datatype(values: list[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all((isinstance(v, float) and math.isfinite(v)) or isinstance(v, int) for v in values):
        return "FP64"
    return "BYTES"


def metadata(model: ServedModel) -> dict[str, Any]:
    """Model metadata (required_api.md "Model Metadata Response JSON Object")."""
    labels = _datatype(model.classes) if model.classes else "INT64"
    outputs = [{"name": PREDICT, "datatype": labels, "shape": [-1, 1]}]
    if model.has_proba and model.classes is not None:
        outputs.append(
            {"name": PREDICT_PROBA, "datatype": "FP64", "shape": [-1, len(model.classes)]}
        )
    return {
        "name": model.name,
        "versions": [model.version],
        "platform": model.runtime,
        "inputs": [
            {"name": c.name, "datatype": _DESCRIBED_AS[c.type], "shape": [-1, 1]}
            for c in model.schema.columns
        ],
        "outputs": outputs,
        "parameters": {"alias": model.alias, "classes": model.classes},
    }
