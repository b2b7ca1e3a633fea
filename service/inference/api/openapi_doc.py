"""OpenAPI request bodies for /predict and /invocations (and their /models/{name}/ twins),
built from the served signature.

A one-model service documents its model's signature on every prediction path. With several
models one path template serves them all, so its body is generic: GET /models/{name}/info
lists the named model's inputs, and GET /v2/models/{name} its tensors."""

from __future__ import annotations

from typing import Any

from inference.models.schema import InputSchema

_ANY_RECORD = {"type": "object", "description": "features keyed by name (no model loaded yet)"}
_ANY_ROW = {"type": "array", "description": "feature values in signature order"}
_NAMED_RECORD = {
    "type": "object",
    "description": "the named model's features keyed by name (GET /models/{name}/info)",
}
_NAMED_ROW = {
    "type": "array",
    "description": "the named model's feature values in signature order",
}
PATHS = ("/predict", "/invocations", "/models/{name}/predict", "/models/{name}/invocations")


def request_bodies(schema: InputSchema | None, several: bool = False) -> dict[str, dict[str, Any]]:
    """The body of every prediction path: `schema`'s, or generic without one (no version
    loaded yet, or `several` models behind one path)."""
    if several:
        record, row = _NAMED_RECORD, _NAMED_ROW
    else:
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
        path: _body(invocations if path.endswith("/invocations") else predict) for path in PATHS
    }


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}
