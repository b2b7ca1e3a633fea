"""Go RE2 `pattern`s of CRD schemas, checked by RE2 itself (gitops/tree/go_regex.py)."""

from __future__ import annotations

import pytest

from gitops.tree.crds import to_json_schema
from gitops.tree.go_regex import Re2Draft7Validator, dropped_patterns


def valid(schema: dict, value: object) -> bool:
    return Re2Draft7Validator(to_json_schema(schema)).is_valid(value)


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
