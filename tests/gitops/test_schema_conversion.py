"""CRD structural schemas to strict JSON Schema, and Go RE2 patterns to Python."""

from __future__ import annotations

import re

import jsonschema
import pytest

from gitops.crd_schemas import to_json_schema
from gitops.go_regex import dropped_patterns, translate


def valid(schema: dict, value: object) -> bool:
    return jsonschema.Draft7Validator(to_json_schema(schema)).is_valid(value)


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


@pytest.mark.parametrize(
    ("go", "matching", "not_matching"),
    [
        ("^(?i)(abort|warn)?$", "WARN", "fail"),
        ("^[[:alpha:]]+\\z", "abc", "ab1"),
        ("^a\\Q.*\\E$", "a.*", "ab"),
    ],
)
def test_translated_patterns_keep_their_meaning(go: str, matching: str, not_matching: str) -> None:
    python = translate(go)
    assert python is not None
    assert re.search(python, matching)
    assert not re.search(python, not_matching)


@pytest.mark.parametrize("go", ["\\pL+", "a(b(?i)c)", "(?U)a+"])
def test_untranslatable_patterns_are_dropped_and_listed(go: str) -> None:
    assert translate(go) is None
    assert go in dropped_patterns()
