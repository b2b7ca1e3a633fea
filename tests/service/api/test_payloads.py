import math

import pytest

from inference.api.payloads import rows_for_invocations, rows_for_predict
from inference.models.number_ranges import InfinityLiteral
from inference.models.schema import Column, InputError, InputSchema

IRIS = InputSchema(
    tuple(
        Column(n, "double") for n in ("sepal_length", "sepal_width", "petal_length", "petal_width")
    )
)
RECORD = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
ROW = [5.1, 3.5, 1.4, 0.2]


@pytest.mark.parametrize(
    ("payload", "count"),
    [(RECORD, 1), ([RECORD], 1), (ROW, 1), ([ROW], 1), ([RECORD, RECORD], 2), ([ROW, ROW], 2)],
    ids=["record", "records", "row", "rows", "two-records", "two-rows"],
)
def test_predict_shapes(payload: object, count: int) -> None:
    # The count too: `all()` of no rows holds, so rows dropped would pass on their own.
    assert rows_for_predict(payload, IRIS, 1000) == [ROW] * count


def test_records_are_reordered_to_signature_order() -> None:
    shuffled = dict(reversed(list(RECORD.items())))
    assert rows_for_predict(shuffled, IRIS, 10) == [ROW]


def test_integers_are_numbers() -> None:
    assert rows_for_predict([5, 3, 1, 0], IRIS, 10) == [[5, 3, 1, 0]]


@pytest.mark.parametrize(
    "payload",
    [
        {"dataframe_split": {"columns": list(RECORD), "data": [ROW]}},
        {"dataframe_split": {"columns": list(reversed(RECORD)), "data": [list(reversed(ROW))]}},
        {"dataframe_split": {"data": [ROW]}},
        {"dataframe_records": [RECORD]},
        {"instances": [RECORD]},
        {"instances": [ROW]},
        {"inputs": [ROW]},
        {"inputs": {name: [value] for name, value in RECORD.items()}},
    ],
)
def test_invocation_formats(payload: object) -> None:
    assert rows_for_invocations(payload, IRIS, 10) == [ROW]


def _fields(exc: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [e.field for e in exc.value.errors]


@pytest.mark.parametrize(
    ("payload", "field", "expected"),
    [
        ({**RECORD, "colour": "red"}, "body[0].colour", "one of"),
        ({k: v for k, v in RECORD.items() if k != "petal_width"}, "body[0].petal_width", "number"),
        ({**RECORD, "sepal_length": "5.1"}, "body[0].sepal_length", "number (double)"),
        ({**RECORD, "sepal_length": True}, "body[0].sepal_length", "number (double)"),
        ({**RECORD, "sepal_length": None}, "body[0].sepal_length", "number (double)"),
        ({**RECORD, "sepal_length": math.nan}, "body[0].sepal_length", "finite number"),
        (
            {**RECORD, "sepal_length": InfinityLiteral("inf")},
            "body[0].sepal_length",
            "finite number",
        ),
        ({**RECORD, "sepal_length": math.inf}, "body[0].sepal_length", "(FP64)"),  # from 1e999
        ([1.0, 2.0, 3.0], "body[0]", "4 values"),
        ([], "body", "at least one row"),
        ("text", "body", "record"),
        ([[1, 2, 3, 4]] * 11, "body", "at most 10 rows"),
    ],
)
def test_predict_errors_name_the_field(payload: object, field: str, expected: str) -> None:
    with pytest.raises(InputError) as exc:
        rows_for_predict(payload, IRIS, 10)
    assert field in _fields(exc)
    assert any(expected in e.expected for e in exc.value.errors)
    assert exc.value.status_code == 422


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"records": [RECORD]}, "body.records"),
        ({}, "body"),
        ({"instances": [ROW], "inputs": [ROW]}, "body"),
        (
            {"dataframe_split": {"columns": ["sepal_length"], "data": [[1.0]]}},
            "dataframe_split.columns",
        ),
        (
            {"dataframe_split": {"columns": [*RECORD, "x"], "data": [[*ROW, 1]]}},
            "dataframe_split.columns",
        ),
        ({"dataframe_split": [ROW]}, "dataframe_split"),
        ({"dataframe_records": RECORD}, "dataframe_records"),
        ({"inputs": {"sepal_length": [1.0], "sepal_width": []}}, "inputs"),
        ({"instances": []}, "instances"),
    ],
)
def test_invocation_errors(payload: object, field: str) -> None:
    with pytest.raises(InputError) as exc:
        rows_for_invocations(payload, IRIS, 10)
    assert field in _fields(exc)


def test_error_list_is_capped_and_never_echoes_values() -> None:
    secret = "do-not-echo-" * 10
    with pytest.raises(InputError) as exc:
        rows_for_predict([{**RECORD, "sepal_length": secret}] * 50, IRIS, 1000)
    assert len(exc.value.errors) == 10
    assert all(secret not in str(e.as_dict()) for e in exc.value.errors)


def test_string_and_boolean_columns() -> None:
    schema = InputSchema((Column("review", "string"), Column("verified", "boolean")))
    assert rows_for_predict({"review": "ok", "verified": False}, schema, 5) == [["ok", False]]
    with pytest.raises(InputError) as exc:
        rows_for_predict({"review": 3, "verified": "yes"}, schema, 5)
    assert {e.expected for e in exc.value.errors} == {"string", "boolean"}
