"""Request bodies -> validated rows, for /predict and the mlflow-compatible /invocations."""

from __future__ import annotations

from typing import Any

from inference.models.schema import FieldError, InputError, InputSchema

INVOCATION_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def _check_count(rows: list[Any], where: str, max_rows: int) -> None:
    if not rows:
        raise InputError([FieldError(where, "empty list", "at least one row")])
    if len(rows) > max_rows:
        raise InputError(
            [FieldError(where, f"{len(rows)} rows", f"at most {max_rows} rows per request")]
        )


def rows_for_predict(payload: Any, schema: InputSchema, max_rows: int) -> list[list[Any]]:
    """/predict: one record, a list of records, one row, or a list of rows."""
    if isinstance(payload, dict):
        return schema.rows_from_records([payload], "body")
    if not isinstance(payload, list):
        raise InputError(
            [FieldError("body", "not an object or array", "a record, a list of records or rows")]
        )
    _check_count(payload, "body", max_rows)
    first = payload[0]
    if isinstance(first, dict):
        return schema.rows_from_records(payload, "body")
    if isinstance(first, list):
        return schema.rows_from_lists(payload, "body")
    # A flat list of scalars is one row in signature order.
    return schema.rows_from_lists([payload], "body")


def rows_for_invocations(payload: Any, schema: InputSchema, max_rows: int) -> list[list[Any]]:
    """/invocations: the request formats of `mlflow models serve`."""
    if not isinstance(payload, dict):
        raise InputError(
            [FieldError("body", "not an object", f"an object with one of {INVOCATION_KEYS}")]
        )
    keys = [k for k in payload if k in INVOCATION_KEYS]
    extra = [k for k in payload if k not in INVOCATION_KEYS]
    if extra:
        raise InputError(
            [
                FieldError(f"body.{k}", "unknown key", f"one of {list(INVOCATION_KEYS)}")
                for k in extra
            ]
        )
    if len(keys) != 1:
        raise InputError(
            [
                FieldError(
                    "body", f"got {len(keys)} input keys", f"exactly one of {list(INVOCATION_KEYS)}"
                )
            ]
        )
    key = keys[0]
    data = payload[key]
    if key == "dataframe_split":
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise InputError(
                [FieldError(key, "invalid", 'an object {"columns": [...], "data": [[...], ...]}')]
            )
        _check_count(data["data"], f"{key}.data", max_rows)
        columns = data.get("columns")
        if columns is None:
            return schema.rows_from_lists(data["data"], f"{key}.data")
        return schema.rows_from_lists(data["data"], key, columns=columns)
    if key == "dataframe_records":
        if not isinstance(data, list):
            raise InputError([FieldError(key, "not an array", "an array of records")])
        _check_count(data, key, max_rows)
        return schema.rows_from_records(data, key)
    # instances / inputs: records, rows, or one dict of columns {"name": [values, ...]}.
    if isinstance(data, dict):
        return _rows_from_columnar(data, key, schema, max_rows)
    if not isinstance(data, list):
        raise InputError([FieldError(key, "not an array or object", "records, rows or columns")])
    _check_count(data, key, max_rows)
    if isinstance(data[0], dict):
        return schema.rows_from_records(data, key)
    return schema.rows_from_lists(data, key)


def _rows_from_columnar(
    data: dict[str, Any], where: str, schema: InputSchema, max_rows: int
) -> list[list[Any]]:
    lengths = {len(v) for v in data.values() if isinstance(v, list)}
    if len(lengths) != 1 or not all(isinstance(v, list) for v in data.values()):
        raise InputError(
            [FieldError(where, "columns of unequal length", "an object of equally long arrays")]
        )
    count = lengths.pop()
    if count == 0:
        raise InputError([FieldError(where, "empty columns", "at least one row")])
    if count > max_rows:
        raise InputError(
            [FieldError(where, f"{count} rows", f"at most {max_rows} rows per request")]
        )
    records = [{name: values[i] for name, values in data.items()} for i in range(count)]
    return schema.rows_from_records(records, where)
