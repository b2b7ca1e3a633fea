"""inference.models.schema: a model's signature as columns, and every way a value or a row can be
wrong named by its field and what was expected."""

from __future__ import annotations

import math

import pytest

from inference.models.number_ranges import InfinityLiteral
from inference.models.schema import MAX_FIELD_CHARS, MAX_REPORTED_ERRORS, InputError, InputSchema


def _schema(**types: str) -> InputSchema:
    return InputSchema.from_signature_inputs([{"name": n, "type": t} for n, t in types.items()])


def _errors(call: object) -> list[dict[str, str]]:
    with pytest.raises(InputError) as raised:
        call()  # type: ignore[operator]
    return [e.as_dict() for e in raised.value.errors]


def test_signature_columns_and_what_they_expect() -> None:
    schema = InputSchema.from_signature_inputs(
        [
            {"name": "x", "type": "double"},
            {"name": "n", "type": "long", "required": False},
            {"name": "ok", "type": "boolean"},
            {"name": "text", "type": "string"},
        ]
    )
    assert schema.names == ["x", "n", "ok", "text"]
    assert [c.expected for c in schema.columns] == [
        "number (double)",
        "integer (long)",
        "boolean",
        "string",
    ]
    assert not schema.all_numeric
    assert _schema(a="double", b="long").all_numeric


@pytest.mark.parametrize("inputs", [[], [{"type": "double"}], [{"name": "x", "type": "tensor"}]])
def test_signatures_the_service_cannot_serve_are_refused(inputs: list[dict]) -> None:
    with pytest.raises(ValueError, match="signature"):
        InputSchema.from_signature_inputs(inputs)


@pytest.mark.parametrize(
    ("kind", "value", "message", "expected"),
    [
        ("double", "1.5", "got string", "number (double)"),
        ("double", True, "got boolean", "number (double)"),
        ("double", None, "value is null", "number (double)"),
        ("double", math.nan, "NaN is not accepted by this model", "finite number"),
        ("double", InfinityLiteral("inf"), "infinity is not accepted", "finite number"),
        ("double", math.inf, "out of range for double", "a number within ±1.7976931e+308 (FP64)"),
        ("long", 1.5, "got number", "integer (long)"),
        ("boolean", 1, "got number", "boolean"),
        ("string", ["a"], "got array", "string"),
    ],
)
def test_a_wrong_value_names_its_field_and_the_expected_type(
    kind: str, value: object, message: str, expected: str
) -> None:
    schema = _schema(f=kind)
    problem = schema.check_value(schema.columns[0], value, "body[0].f")
    assert problem is not None
    assert problem.as_dict() == {"field": "body[0].f", "message": message, "expected": expected}


def test_nan_and_inf_pass_only_when_the_model_scores_them() -> None:
    schema = _schema(f="double")
    schema.allow_nan = True
    assert schema.check_value(schema.columns[0], math.nan, "f") is None
    assert schema.check_value(schema.columns[0], InfinityLiteral("inf"), "f") is not None


def test_records_come_back_in_signature_order() -> None:
    schema = _schema(a="double", b="double")
    assert schema.rows_from_records([{"b": 2, "a": 1.0}], "body") == [[1.0, 2]]


def test_record_errors_name_unknown_missing_and_wrong_fields() -> None:
    schema = _schema(a="double", b="double")
    errors = _errors(lambda: schema.rows_from_records([{"a": "x", "c": 1}, 7], "body"))
    assert errors == [
        {"field": "body[0].c", "message": "unknown feature", "expected": "one of ['a', 'b']"},
        {"field": "body[0].a", "message": "got string", "expected": "number (double)"},
        {"field": "body[0].b", "message": "missing feature", "expected": "number (double)"},
        {"field": "body[1]", "message": "got number", "expected": "object keyed by feature name"},
    ]


def test_positional_rows_are_checked_for_width_and_values() -> None:
    schema = _schema(a="double", b="long")
    assert schema.rows_from_lists([[1.0, 2]], "body") == [[1.0, 2]]
    errors = _errors(lambda: schema.rows_from_lists([[1.0], [1.0, 2.5], "x"], "body"))
    assert [e["field"] for e in errors] == ["body[0]", "body[1].b", "body[2]"]
    assert errors[0]["expected"] == "2 values in order ['a', 'b']"


def test_named_columns_are_reordered_and_checked() -> None:
    schema = _schema(a="double", b="double")
    assert schema.rows_from_lists([[2.0, 1.0]], "body", columns=["b", "a"]) == [[1.0, 2.0]]
    errors = _errors(lambda: schema.rows_from_lists([[1.0]], "body", columns=["a", "a", "z"]))
    assert {e["message"] for e in errors} == {
        "unknown feature 'z'",
        "missing feature 'b'",
        "duplicate names",
    }


def test_the_error_list_is_capped() -> None:
    schema = _schema(a="double")
    errors = _errors(lambda: schema.rows_from_lists([["x"]] * 500, "body"))
    assert len(errors) == MAX_REPORTED_ERRORS


@pytest.mark.parametrize(
    ("kind", "inside", "beyond", "expected"),
    [
        ("double", 10**308, 10**309, "(FP64)"),  # an integer literal beyond any float
        ("float", 3.4e38, 3.5e38, "(FP32)"),
        ("long", 2**63 - 1, 2**63, "[-9223372036854775808, 9223372036854775807] (INT64)"),
        ("integer", -(2**31), -(2**31) - 1, "[-2147483648, 2147483647] (INT32)"),
    ],
)
def test_a_number_beyond_its_column_type_names_the_field_and_the_range(
    kind: str, inside: float, beyond: float, expected: str
) -> None:
    schema = _schema(f=kind)
    assert schema.rows_from_lists([[inside]], "body") == [[inside]]
    (error,) = _errors(lambda: schema.rows_from_lists([[beyond]], "body"))
    assert error["field"] == "body[0].f"
    assert error["message"] == f"out of range for {kind}"
    assert error["expected"].endswith(expected)
    assert _errors(lambda: schema.rows_from_records([{"f": beyond}], "body")) == [error]


def test_a_float32_model_bounds_double_columns_by_float32() -> None:
    schema = _schema(a="double", n="long")
    assert schema.rows_from_lists([[1e300, 2**62]], "body") == [[1e300, 2**62]]
    schema.feed_floats_as("FP32")
    (error,) = _errors(lambda: schema.rows_from_lists([[1e300, 2**62]], "body"))
    assert error == {
        "field": "body[0].a",
        "message": "out of range: the model takes FP32",
        "expected": "a number within ±3.4028235e+38 (FP32)",
    }
    assert schema.rows_from_lists([[-3.4e38, 2**62]], "body") == [[-3.4e38, 2**62]]


def test_infinity_stays_a_question_of_the_model_not_of_the_range() -> None:
    schema = _schema(f="double")
    schema.feed_floats_as("FP32")
    schema.allow_inf = True  # a tree scores infinity: the client sent it, the model takes it
    written = InfinityLiteral("-inf")
    assert schema.rows_from_lists([[written]], "body") == [[written]]
    assert _errors(lambda: schema.rows_from_lists([[1e39]], "body"))
    # An infinity the client did not write is a number beyond FP64 (1e999): never infinity.
    (error,) = _errors(lambda: schema.rows_from_lists([[-math.inf]], "body"))
    assert error["message"] == "out of range: the model takes FP32"


def test_a_version_admits_only_rows_it_takes_as_they_are() -> None:
    stable, candidate = _schema(f="double"), _schema(f="double")
    candidate.feed_floats_as("FP32")
    rows = stable.rows_from_lists([[1.0], [1e300]], "body")
    assert stable.admits(rows)
    assert not candidate.admits(rows)
    assert candidate.admits([[1.0]])


def test_a_long_unknown_key_is_cut_in_the_error() -> None:
    schema = _schema(a="double")
    key = "k" * 10_000
    errors = _errors(lambda: schema.rows_from_records([{"a": 1.0, key: 1}], "body"))
    assert errors[0]["message"] == "unknown feature"
    assert errors[0]["field"].startswith("body[0].kkk")
    assert len(errors[0]["field"]) == MAX_FIELD_CHARS


@pytest.mark.parametrize("text", ["\ud800", "ok \udfff", "\udc00\ud800"])
def test_a_lone_surrogate_is_not_text(text: str) -> None:
    schema = _schema(review="string")
    (error,) = _errors(lambda: schema.rows_from_lists([[text]], "body"))
    assert error == {
        "field": "body[0].review",
        "message": "holds a lone surrogate",
        "expected": "a string of Unicode characters",
    }
    assert _errors(lambda: schema.rows_from_records([{"review": text}], "body")) == [error]


def test_any_other_text_is_text() -> None:
    schema = _schema(review="string")
    rows = [["plain"], ["\U0001f600 emoji, once an escaped pair"], ["é中"], [""]]
    assert schema.rows_from_lists(rows, "body") == rows
