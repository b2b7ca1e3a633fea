"""OpenAPI request bodies for /predict and /invocations, built from the served signature."""

from __future__ import annotations

from typing import Any

from inference.models.schema import InputSchema

_ANY_RECORD = {"type": "object", "description": "features keyed by name (no model loaded yet)"}
_ANY_ROW = {"type": "array", "description": "feature values in signature order"}


def request_bodies(schema: InputSchema | None) -> dict[str, dict[str, Any]]:
    record = schema.openapi_record() if schema else _ANY_RECORD
    row = schema.openapi_row() if schema else _ANY_ROW
    records = {"type": "array", "items": record, "minItems": 1}
    rows = {"type": "array", "items": row, "minItems": 1}
    predict = {"oneOf": [record, records, row, rows]}
    invocations = {
        "oneOf": [
            {
                "type": "object",
                "required": ["dataframe_split"],
                "properties": {
                    "dataframe_split": {
                        "type": "object",
                        "required": ["data"],
                        "properties": {
                            "columns": {"type": "array", "items": {"type": "string"}},
                            "data": rows,
                        },
                    }
                },
                "additionalProperties": False,
            },
            *(
                {
                    "type": "object",
                    "required": [key],
                    "properties": {key: {"oneOf": [records, rows]}},
                    "additionalProperties": False,
                }
                for key in ("dataframe_records", "instances", "inputs")
            ),
        ]
    }
    return {
        "/predict": _body(predict),
        "/invocations": _body(invocations),
    }


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}
