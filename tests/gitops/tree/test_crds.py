"""CRD structural schemas to strict JSON Schema (gitops/tree/crds.py)."""

from __future__ import annotations

from gitops.tree.crds import to_json_schema
from gitops.tree.go_regex import Re2Draft7Validator


def valid(schema: dict, value: object) -> bool:
    return Re2Draft7Validator(to_json_schema(schema)).is_valid(value)


def test_properties_reject_unknown_fields_unless_preserved() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert valid(schema, {"a": "x"})
    assert not valid(schema, {"a": "x", "b": 1})
    assert valid({**schema, "x-kubernetes-preserve-unknown-fields": True}, {"b": 1})
    assert valid({"type": "object", "additionalProperties": {"type": "string"}}, {"k": "v"})


def test_int_or_string_and_nullable() -> None:
    port = {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert valid(port, 8080)
    assert valid(port, "http")
    assert not valid(port, 1.5)
    assert valid({"type": "string", "nullable": True}, None)
    assert not valid({"type": "string"}, None)
