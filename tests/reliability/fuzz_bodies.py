"""Requests for the generated fuzzing (test_fuzz_classes.py): rows of values of every class
the service must tell apart, written in every body shape the prediction routes accept, and
what each value may be for a prediction computed on it to be a prediction on the request.

JSON is written here by hand (dumps), because the bodies must say what no encoder says: a key
twice in one object (Pairs), a number beyond FP64 or the Infinity literal (Literal).
Datatype limits come from numpy's finfo/iinfo, not from the service's own table.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

FLOAT_TYPES = {"FP16": np.float16, "FP32": np.float32, "FP64": np.float64}
INTEGER_TYPES = {
    **{f"INT{b}": getattr(np, f"int{b}") for b in (8, 16, 32, 64)},
    **{f"UINT{b}": getattr(np, f"uint{b}") for b in (8, 16, 32, 64)},
}
DATATYPES = sorted(FLOAT_TYPES) + sorted(INTEGER_TYPES)


@dataclass(frozen=True)
class Literal:
    """A JSON number or constant written as is: `1e999`, `Infinity`, `NaN`."""

    text: str

    @property
    def value(self) -> float:
        return float(self.text)  # Python reads Infinity and NaN too


class Pairs(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs, in order: a key may be given twice."""


def dumps(value: Any) -> str:
    """JSON text of `value`, ASCII only (a lone surrogate becomes its \\u escape)."""
    if isinstance(value, Literal):
        return value.text
    if isinstance(value, dict):
        value = Pairs(value.items())
    if isinstance(value, Pairs):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value, allow_nan=False)


def as_pairs(value: Any) -> Any:
    """`value` with every dict as Pairs, so a test can add a key to any object."""
    if isinstance(value, dict):
        return Pairs((k, as_pairs(v)) for k, v in value.items())
    if isinstance(value, list):
        return [as_pairs(v) for v in value]
    return value


def objects_in(value: Any) -> list[Pairs]:
    """Every object in `value` (as_pairs'd), outermost first."""
    found: list[Pairs] = []
    stack = [value]
    while stack:
        item = stack.pop(0)
        if isinstance(item, Pairs):
            found.append(item)
            stack.extend(v for _, v in item)
        elif isinstance(item, list):
            stack.extend(item)
    return found


def depth_of(value: Any) -> int:
    """How deep arrays and objects nest in `value` (a scalar: 0)."""
    if isinstance(value, Pairs | dict):
        items = value if isinstance(value, Pairs) else list(value.items())
        return 1 + max((depth_of(v) for _, v in items), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


# --- values ---------------------------------------------------------------------------------


def limits(datatype: str) -> tuple[float, float]:
    if datatype in FLOAT_TYPES:
        top = float(np.finfo(FLOAT_TYPES[datatype]).max)
        return -top, top
    info = np.iinfo(INTEGER_TYPES[datatype])
    return int(info.min), int(info.max)


def edge_values(datatype: str) -> list[Any]:
    """The values at a datatype's limits and just beyond them."""
    low, high = limits(datatype)
    if datatype in INTEGER_TYPES:
        return [low, high, low - 1, high + 1, float(high) * 2]
    beyond = Literal("1.8e308") if datatype == "FP64" else high * 1.0001
    return [high, low, beyond, -beyond if isinstance(beyond, float) else Literal("-1e309")]


def values(datatype: str) -> st.SearchStrategy[Any]:
    """A value for a tensor or column of `datatype`: mostly ordinary, often at or beyond a
    limit (its own, float32's, float64's), sometimes NaN, Infinity or a number beyond any."""
    ordinary = st.floats(min_value=0, max_value=10) | st.integers(min_value=0, max_value=10)
    if datatype in INTEGER_TYPES:
        ordinary = st.integers(min_value=0, max_value=10)
    edges = st.sampled_from(
        [*edge_values(datatype), *edge_values("FP32"), *edge_values("FP64"), 1e300, -1e39]
    )
    extreme = st.sampled_from(
        [
            Literal("NaN"),
            Literal("Infinity"),
            Literal("-Infinity"),
            Literal("1e999"),
            Literal("-1e400"),
            10**400,
            -(10**320),
            Literal("1e-400"),  # underflows to 0: rounding, like any float conversion
            2.5,
            -1,
        ]
    )
    return st.one_of(ordinary, ordinary, ordinary, edges, extreme)


def fits(value: Any, datatypes: list[str]) -> bool:
    """Whether `value`, as the client wrote it, reaches a model of every one of `datatypes`
    as itself (rounded at most): NaN and the Infinity literal are the client's own values; a
    number is within each float type's finite range and each integer type's range."""
    if isinstance(value, Literal):
        if value.text in ("NaN", "Infinity", "-Infinity"):
            return not any(d in INTEGER_TYPES for d in datatypes)
        value = value.value
        if math.isinf(value):
            return False  # a number beyond FP64, which only infinity would stand for
    for datatype in datatypes:
        low, high = limits(datatype)
        if not low <= value <= high:
            return False
        if datatype in INTEGER_TYPES and not float(value).is_integer():
            return False
    return True


def model_value(value: Any) -> Any:
    """What a model must be given for `value`: the number the client wrote."""
    return value.value if isinstance(value, Literal) else value


# --- body shapes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    route: str
    shape: str
    body: Any  # for dumps()
    rows: list[list[Any]]  # what the request carries, in signature order
    bounds: list[list[list[str]]]  # per value: the datatypes it must fit (declared, column)
    outputs: tuple[str, ...] = ()  # v2: the outputs asked for


def records(rows: list[list[Any]], columns: list[str], order: list[int]) -> list[dict[str, Any]]:
    return [{columns[i]: row[i] for i in order} for row in rows]


def rest_request(
    shape: str, rows: list[list[Any]], columns: list[str], order: list[int]
) -> tuple[str, Any]:
    """/predict and /invocations bodies: every shape they accept."""
    as_columns = {columns[i]: [row[i] for row in rows] for i in order}
    bodies = {
        "predict-record": ("/predict", records(rows, columns, order)[0]),
        "predict-records": ("/predict", records(rows, columns, order)),
        "predict-row": ("/predict", rows[0]),
        "predict-rows": ("/predict", rows),
        "split": (
            "/invocations",
            {
                "dataframe_split": {
                    "columns": [columns[i] for i in order],
                    "data": [[row[i] for i in order] for row in rows],
                }
            },
        ),
        "split-no-columns": ("/invocations", {"dataframe_split": {"data": rows}}),
        "dataframe-records": ("/invocations", {"dataframe_records": records(rows, columns, order)}),
        "instances-records": ("/invocations", {"instances": records(rows, columns, order)}),
        "instances-rows": ("/invocations", {"instances": rows}),
        "instances-columns": ("/invocations", {"instances": as_columns}),
        "inputs-records": ("/invocations", {"inputs": records(rows, columns, order)}),
        "inputs-rows": ("/invocations", {"inputs": rows}),
        "inputs-columns": ("/invocations", {"inputs": as_columns}),
    }
    return bodies[shape]


REST_SHAPES = [
    "predict-record",
    "predict-records",
    "predict-row",
    "predict-rows",
    "split",
    "split-no-columns",
    "dataframe-records",
    "instances-records",
    "instances-rows",
    "instances-columns",
    "inputs-records",
    "inputs-rows",
    "inputs-columns",
]
V2_SHAPES = ["v2-matrix-flat", "v2-matrix-nested", "v2-columns", "v2-columns-n1"]
ONE_ROW_SHAPES = {"predict-record", "predict-row"}


def v2_body(
    shape: str,
    rows: list[list[Any]],
    columns: list[str],
    datatypes: list[str],
    outputs: tuple[str, ...],
) -> dict[str, Any]:
    """An Open Inference Protocol request: one [N, F] tensor (datatypes[0]) or one tensor per
    column (datatypes[i]), data flat or nested."""
    count, width = len(rows), len(columns)
    if shape.startswith("v2-matrix"):
        data: list[Any] = rows if shape == "v2-matrix-nested" else [v for row in rows for v in row]
        tensors = [
            {"name": "input-0", "shape": [count, width], "datatype": datatypes[0], "data": data}
        ]
    else:
        nested = shape == "v2-columns-n1"
        tensors = [
            {
                "name": name,
                "shape": [count, 1] if nested else [count],
                "datatype": datatypes[i],
                "data": [[row[i]] if nested else row[i] for row in rows],
            }
            for i, name in enumerate(columns)
        ]
    body: dict[str, Any] = {"inputs": tensors}
    if outputs:
        body["outputs"] = [{"name": name} for name in outputs]
    return body


@st.composite
def requests(
    draw: st.DrawFn,
    columns: list[str],
    model: str,
    version: str,
    model_float: str,
) -> Request:
    """A prediction request of any shape, route and value class."""
    shape = draw(st.sampled_from(REST_SHAPES + V2_SHAPES))
    count = 1 if shape in ONE_ROW_SHAPES else draw(st.integers(min_value=1, max_value=4))
    width = len(columns)
    if shape in V2_SHAPES:
        per_tensor = 1 if shape.startswith("v2-matrix") else width
        datatypes = draw(
            st.lists(st.sampled_from(DATATYPES), min_size=per_tensor, max_size=per_tensor)
        )
        column_types = datatypes * width if per_tensor == 1 else datatypes
    else:
        column_types = draw(
            st.lists(st.sampled_from(["FP32", "FP64"]), min_size=width, max_size=width)
        )
    rows = [[draw(values(column_types[i])) for i in range(width)] for _ in range(count)]
    declared: list[list[str]] = [[t] if shape in V2_SHAPES else [] for t in column_types]
    bounds = [[[*declared[i], "FP64", model_float] for i in range(width)] for _ in rows]
    if shape in V2_SHAPES:
        outputs = tuple(draw(st.sampled_from([(), ("predict",), ("predict", "predict_proba")])))
        versioned = draw(st.booleans())
        route = (
            f"/v2/models/{model}/versions/{version}/infer"
            if versioned
            else f"/v2/models/{model}/infer"
        )
        body = v2_body(shape, rows, columns, datatypes, outputs)
        return Request(route, shape, body, rows, bounds, outputs)
    order = draw(st.permutations(range(width)))
    route, body = rest_request(shape, rows, columns, list(order))
    if draw(st.booleans()):  # the same body on the model's own path
        route = f"/models/{model}{route}"
    return Request(route, shape, body, rows, bounds)
