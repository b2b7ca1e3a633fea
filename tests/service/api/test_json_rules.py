"""inference.api.json_rules: nesting depth measured on the bytes, before and without parsing,
checked against a plain character-by-character reader written here; and repeated keys."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inference.api.json_rules import keys_may_repeat, nesting_depth_exceeds, repeated_key

LIMIT = 32


def reference_depth(body: bytes) -> int:
    """The most brackets open at once outside strings, read one character at a time (an
    unterminated string runs to the end, as the rule reads it)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in body.decode("latin-1"):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def nested(depth: int, opener: str = "[", closer: str = "]", inner: str = "1") -> bytes:
    return (opener * depth + inner + closer * depth).encode()


@pytest.mark.parametrize(
    ("opener", "closer"),
    [("[", "]"), ('{"a":', "}"), ('[{"a":', "}]")],
    ids=["arrays", "objects", "both"],
)
def test_the_limit_is_inclusive(opener: str, closer: str) -> None:
    levels = len(opener.replace('"a":', ""))
    at_limit = nested(LIMIT // levels, opener, closer)
    assert reference_depth(at_limit) <= LIMIT
    assert not nesting_depth_exceeds(at_limit, reference_depth(at_limit))
    assert nesting_depth_exceeds(at_limit, reference_depth(at_limit) - 1)


def test_brackets_inside_strings_are_text() -> None:
    body = json.dumps({"a": "[" * 100, "b": "]" * 100, "c": '"[{' * 50}).encode()
    assert not nesting_depth_exceeds(body, 1)


def test_closing_brackets_inside_a_string_do_not_hide_depth() -> None:
    body = b'["' + b"]" * 40 + b'",' + nested(40) + b"]"
    assert nesting_depth_exceeds(body, LIMIT)


def test_escaped_quotes_do_not_end_a_string() -> None:
    body = b'["\\"' + b"[" * 40 + b'", 1]'
    assert not nesting_depth_exceeds(body, 2)
    assert nesting_depth_exceeds(b'["\\\\", ' + nested(40) + b"]", LIMIT)  # an escaped backslash


def test_an_unclosed_body_counts_every_opening_bracket() -> None:
    assert nesting_depth_exceeds(b"[" * 5000, LIMIT)
    assert nesting_depth_exceeds(b"[" * 20 + nested(20)[:-20], LIMIT)


def test_many_shallow_brackets_are_not_depth() -> None:
    rows = json.dumps([[5.1, 3.5, 1.4, 0.2]] * 1000).encode()
    records = json.dumps([{"a": [1], "b": {"c": 2}}] * 1000).encode()
    assert not nesting_depth_exceeds(rows, 2)
    assert not nesting_depth_exceeds(records, 3)
    assert nesting_depth_exceeds(records, 2)


@pytest.mark.parametrize(
    "body",
    [
        nested(500_000),
        b"[" * 40 + b'"' + b'\\"' * 500_000,  # an unterminated string of escaped quotes
        b"[" + b'"\\\\",' * 200_000 + b"1]" + b"[" * 40,
        b"[" + b"[[]]," * 200_000 + b"[]]",
    ],
    ids=["deep", "escaped-quotes", "escaped-backslashes", "wide"],
)
def test_a_megabyte_is_measured_in_linear_time(body: bytes) -> None:
    """The scan never backtracks and never recurses: a quadratic one would take hours here."""
    started = time.perf_counter()
    nesting_depth_exceeds(body, LIMIT)
    assert time.perf_counter() - started < 2.0


def json_texts() -> st.SearchStrategy[bytes]:
    values = st.recursive(
        st.none() | st.integers() | st.text(alphabet='ab[]{}"\\', max_size=6),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(alphabet='k[]"\\', max_size=3), children, max_size=3)
        ),
        max_leaves=60,
    )
    return values.map(lambda v: json.dumps(v).encode())


@settings(max_examples=400)
@given(body=json_texts(), limit=st.integers(min_value=1, max_value=12))
def test_a_json_document_is_measured_exactly(body: bytes, limit: int) -> None:
    assert nesting_depth_exceeds(body, limit) == (reference_depth(body) > limit)


@settings(max_examples=400)
@given(
    body=st.lists(st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b"1", b","])).map(b"".join),
    limit=st.integers(min_value=1, max_value=8),
)
def test_any_bytes_are_never_measured_shallower_than_they_nest(body: bytes, limit: int) -> None:
    """Malformed bodies may be over-counted (their unmatched openings count), never under."""
    if reference_depth(body) > limit:
        assert nesting_depth_exceeds(body, limit)


def test_the_first_repeated_key_is_named() -> None:
    assert repeated_key(["a", "b", "c"]) is None
    assert repeated_key(["a", "b", "b", "a"]) == "b"
    assert repeated_key([]) is None


@pytest.mark.parametrize(
    ("body", "may_repeat"),
    [
        (b'{"a": 1, "a": 2}', True),
        (b'{"a": "x:y", "a": 1}', True),  # the string's colon must not hide the repeat
        (b'[{"a": 1}, {"b": {"c": 1, "c": 2}}]', True),
        (b'{"a:b": "c:d", "e": 1}', False),  # colons in strings only
        (b"[[1, 2], [3, 4]]", False),
        (b'{"dataframe_split": {"columns": ["a"], "data": [[1], [2]]}}', False),
        (b'{"\\"a:": 1}', False),  # an escaped quote before the colon in a key
        (b"{}", False),
    ],
)
def test_keys_may_repeat_is_false_only_when_no_key_was_dropped(
    body: bytes, may_repeat: bool
) -> None:
    """A parser keeping the last value of a key (orjson) reads the same dict either way."""
    pairs: list[int] = []

    def hook(items: list[tuple[str, object]]) -> dict[str, object]:
        pairs.append(len(items) - len(dict(items)))
        return dict(items)

    value = json.loads(body, object_pairs_hook=hook)
    assert (sum(pairs) > 0) == may_repeat
    assert keys_may_repeat(body, value) is may_repeat
