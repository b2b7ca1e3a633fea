"""The Open Inference Protocol dialect: request tensors -> rows, prediction -> tensors, and a
4xx naming the input and what was expected for every malformed request."""

from __future__ import annotations

from typing import Any

import pytest

from inference.api import v2
from inference.api.app import route_template
from inference.models.model import Prediction
from inference.models.schema import Column, InputError, InputSchema

SCHEMA = InputSchema(tuple(Column(n, "double") for n in ("a", "b", "c")))
ROW, ROW2 = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]


def matrix(data: Any, shape: list[int], datatype: str = "FP64") -> dict[str, Any]:
    return {"inputs": [{"name": "input-0", "shape": shape, "datatype": datatype, "data": data}]}


@pytest.mark.parametrize(
    "payload",
    [
        matrix(ROW + ROW2, [2, 3]),
        matrix([ROW, ROW2], [2, 3]),  # nested data, as numpy-minded clients send it
        matrix([int(v) for v in ROW + ROW2], [2, 3], "INT64"),
        matrix(ROW + ROW2, [2, 3], "FP32"),
        {  # one tensor per column, in any order
            "inputs": [
                {"name": name, "shape": [2], "datatype": "FP64", "data": [ROW[i], ROW2[i]]}
                for i, name in sorted(enumerate(("a", "b", "c")), key=lambda p: p[1], reverse=True)
            ]
        },
        {
            "inputs": [
                {"name": name, "shape": [2, 1], "datatype": "FP64", "data": [[ROW[i]], [ROW2[i]]]}
                for i, name in enumerate(("a", "b", "c"))
            ]
        },
    ],
)
def test_accepted_request_shapes(payload: dict[str, Any]) -> None:
    rows = v2.rows_from_request(payload, SCHEMA, 100)
    assert [[float(v) for v in row] for row in rows] == [ROW, ROW2]


@pytest.mark.parametrize(
    ("payload", "field", "expected"),
    [
        ({"inputs": "x"}, "inputs", "`inputs` array"),
        ({"inputs": []}, "inputs", "at least one tensor"),
        (matrix(ROW, [1, 2]), "inputs[0].shape", "[N, 3]"),
        (matrix(ROW, [3]), "inputs[0].shape", "[N, 3]"),
        (matrix(ROW, [1, 3], "BYTES"), "inputs[0].datatype", "FP64"),
        (matrix(ROW[:2], [1, 3]), "inputs[0].data", "3 for shape [1, 3]"),
        (matrix(ROW, [-1, 3]), "inputs[0].shape", "non-negative integers"),
        (matrix("1,2,3", [1, 3]), "inputs[0].data", "as an array"),
        ({"inputs": [{"name": 1, "shape": [1, 3], "datatype": "FP64", "data": ROW}]},
         "inputs[0].name", "a string"),
        ({"inputs": [{"name": "a", "shape": [1], "datatype": "FP64", "data": [1.0]}]},
         "inputs", "one tensor per ['a', 'b', 'c']"),
        ({"inputs": [{"name": n, "shape": [1], "datatype": "BOOL", "data": [True]}
                     for n in "abc"]}, "inputs[0].datatype", "FP64"),
        ({"inputs": [{"name": n, "shape": [1 + (n == "c")], "datatype": "FP64",
                      "data": [1.0] * (1 + (n == "c"))} for n in "abc"]},
         "inputs[2].shape", "like the other inputs"),
        (matrix([ROW] * 3, [3, 3]), "inputs[0].shape", "at most 2 rows"),
        (matrix([], [0, 3]), "inputs[0].shape", "at least one row"),
    ],
)  # fmt: skip
def test_malformed_requests_name_the_input_and_the_expectation(
    payload: Any, field: str, expected: str
) -> None:
    with pytest.raises(InputError) as caught:
        v2.rows_from_request(payload, SCHEMA, 2)
    error = caught.value.errors[0]
    assert caught.value.status_code == 400
    assert error.field == field
    assert expected in error.expected


def test_values_are_checked_like_any_other_request() -> None:
    with pytest.raises(InputError) as caught:
        v2.rows_from_request(matrix([1.0, None, 3.0], [1, 3]), SCHEMA, 10)
    assert "inputs[0]" in caught.value.errors[0].field


def test_outputs_requested_by_name() -> None:
    assert v2.requested_outputs({}, has_proba=True) == ["predict"]
    both = {"outputs": [{"name": "predict_proba"}, {"name": "predict"}]}
    assert v2.requested_outputs(both, has_proba=True) == ["predict_proba", "predict"]
    with pytest.raises(InputError) as caught:
        v2.requested_outputs({"outputs": [{"name": "predict_proba"}]}, has_proba=False)
    assert caught.value.errors[0].field == "outputs[0].name"
    with pytest.raises(InputError):
        v2.requested_outputs({"outputs": [{"name": "transform"}]}, has_proba=True)


class _Model:
    name, version, alias, runtime = "m", "3", "staging", "onnx"
    has_proba, classes = True, [0, 1]
    schema = SCHEMA


def test_response_tensors_as_mlserver_shapes_them() -> None:
    prediction = Prediction([1, 0], [[0.2, 0.8], [0.9, 0.1]])
    body = v2.response(_Model(), prediction, ["predict", "predict_proba"], "req-1")  # type: ignore[arg-type]
    assert body == {
        "model_name": "m",
        "model_version": "3",
        "id": "req-1",
        "outputs": [
            {"name": "predict", "datatype": "INT64", "shape": [2, 1], "data": [1, 0]},
            {"name": "predict_proba", "datatype": "FP64", "shape": [2, 2],
             "data": [0.2, 0.8, 0.9, 0.1]},
        ],
    }  # fmt: skip
    metadata = v2.metadata(_Model())  # type: ignore[arg-type]
    assert metadata["platform"] == "onnx"
    assert [i["name"] for i in metadata["inputs"]] == ["a", "b", "c"]
    assert metadata["outputs"][1] == {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]}


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/predict", "/predict"),
        ("/v2/models/tenant-a-iris/infer", "/v2/models/{name}/infer"),
        ("/v2/models/x/versions/12/infer", "/v2/models/{name}/versions/{version}/infer"),
        ("/v2/models/x/ready", "/v2/models/{name}/ready"),
        ("/v2/health/ready", "/v2/health/ready"),
        ("/v2/models/x/explain", "other"),
        ("/v2/models/x/versions/1/2/3", "other"),
        ("/anything", "other"),
    ],
)
def test_route_labels_stay_bounded(path: str, route: str) -> None:
    assert route_template(path) == route


# The value just inside and just beyond each numeric datatype (number_ranges checks the
# limits themselves against numpy's).
EDGES = {
    "FP16": (65504.0, 65600.0),
    "FP32": (3.4028234663852886e38, 1e300),
    "FP64": (1.7976931348623157e308, 10**309),
    "INT8": (-128, -129),
    "INT16": (32767, 32768),
    "INT32": (-(2**31), -(2**31) - 1),
    "INT64": (2**63 - 1, 2**63),
    "UINT8": (255, 256),
    "UINT16": (65535, -1),
    "UINT32": (2**32 - 1, 2**32),
    "UINT64": (2**64 - 1, 2**64),
}


@pytest.mark.parametrize("datatype", sorted(EDGES))
def test_every_element_lies_within_its_datatype(datatype: str) -> None:
    inside, beyond = EDGES[datatype]
    assert v2.rows_from_request(matrix([1, inside, 3], [1, 3], datatype), SCHEMA, 10) == [
        [1, inside, 3]
    ]
    for payload, where in (
        (matrix([[1, 2, 3], [1, beyond, 3]], [2, 3], datatype), "inputs[0]"),
        (
            {
                "inputs": [
                    {"name": n, "shape": [2, 1], "datatype": datatype, "data": [[1], [v]]}
                    for n, v in (("a", 1), ("b", 2), ("c", beyond))
                ]
            },
            "inputs[2]",
        ),
    ):
        with pytest.raises(InputError) as caught:
            v2.rows_from_request(payload, SCHEMA, 10)
        (error,) = caught.value.errors
        assert caught.value.status_code == 400
        assert error.field == f"{where}.data"
        assert error.message.endswith(f"not representable as {datatype}")
        assert error.expected.endswith(f"({datatype})")


def test_an_integer_tensor_holds_integers() -> None:
    with pytest.raises(InputError) as caught:
        v2.rows_from_request(matrix([1, 2.5, 3], [1, 3], "INT32"), SCHEMA, 10)
    assert caught.value.errors[0].message == "element 1 is not representable as INT32"
    assert v2.rows_from_request(matrix([1, 2.0, 3], [1, 3], "INT32"), SCHEMA, 10) == [[1, 2.0, 3]]


def test_a_float32_model_refuses_what_float32_cannot_hold_whatever_the_datatype() -> None:
    schema = InputSchema(SCHEMA.columns)
    schema.feed_floats_as("FP32")
    with pytest.raises(InputError) as caught:
        v2.rows_from_request(matrix([1.0, 1e300, 3.0], [1, 3], "FP64"), schema, 10)
    assert caught.value.errors[0].field == "inputs[0].b"
    assert caught.value.errors[0].message == "out of range: the model takes FP32"
