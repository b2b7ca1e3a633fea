"""CRD structural schemas to strict JSON Schema, with Go RE2 patterns checked by RE2."""

from __future__ import annotations

import pytest

from gitops.crd_schemas import to_json_schema
from gitops.go_regex import Re2Draft7Validator, dropped_patterns


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


@pytest.mark.parametrize(
    ("go", "matching", "not_matching"),
    [
        # Python's `re` refuses a flag group after the start; RE2 scopes it to the rest.
        ("^(?i)(abort|warn)?$", "WARN", "fail"),
        ("^[[:alpha:]]+\\z", "abc", "ab1"),
        ("^a\\Q.*\\E$", "a.*", "ab"),
        # Unicode classes: Python's `re` has none, and the old translation dropped the check.
        ("^\\p{L}+$", "héllo", "h3llo"),
        ("^\\pL\\p{N}$", "é7", "77"),
        ("a(b(?i)c)", "abC", "aBc"),
    ],
)
def test_crd_patterns_mean_what_they_mean_to_the_api_server(
    go: str, matching: str, not_matching: str
) -> None:
    schema = {"type": "object", "properties": {"f": {"type": "string", "pattern": go}}}
    assert valid(schema, {"f": matching})
    assert not valid(schema, {"f": not_matching})


def test_a_pattern_re2_refuses_is_skipped_and_listed() -> None:
    refused = "(a)\\1"  # a backreference: not RE2 (Go's regexp refuses it too)
    schema = {"type": "object", "properties": {"f": {"type": "string", "pattern": refused}}}
    assert valid(schema, {"f": "anything"})
    assert refused in dropped_patterns()


def test_non_strings_are_left_to_the_type_keyword() -> None:
    schema = {"type": ["integer", "string"], "pattern": "^x$"}
    assert valid(schema, 3)
    assert not valid(schema, "y")
