"""inference.api.json_body: a body -> its JSON value, or a 400 naming the body and what was
expected; too deep a body is refused before the parser sees it."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inference.api import json_body
from inference.api.json_body import parse_json
from inference.models.number_ranges import InfinityLiteral
from inference.models.schema import InputError

DEPTH = 32


def refusal(body: bytes, max_depth: int = DEPTH) -> dict[str, str]:
    with pytest.raises(InputError) as refused:
        parse_json(body, max_depth)
    assert refused.value.status_code == 400
    (error,) = refused.value.errors
    assert error.field == "body"
    return error.as_dict()


def test_a_document_is_parsed() -> None:
    body = {"inputs": [{"name": "x", "data": [[1.5], [2]]}], "text": "\u00e9\u4e2d"}
    assert parse_json(json.dumps(body, ensure_ascii=False).encode(), DEPTH) == body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b"{", "malformed JSON at line 1 column 2"),
        (b"[1,", "malformed JSON"),
        (b" ", "malformed JSON"),
        (b"\xff\xfe", "not UTF-8 text"),
        ('{"a": 1}'.encode("utf-16"), "not UTF-8 text"),  # the stdlib alone would accept it
        (b'["\xed\xa0\x80"]', "not UTF-8 text"),  # an encoded surrogate is not UTF-8
        (b'["\xc0\xaf"]', "not UTF-8 text"),  # an overlong encoding
        (b"\xef\xbb\xbf[1]", "malformed JSON"),  # a byte order mark
        (b"[" + b"1" * 5000 + b"]", "a number with too many digits"),
    ],
)
def test_what_is_not_a_json_document_is_a_400(body: bytes, message: str) -> None:
    assert refusal(body)["message"].startswith(message)


def test_written_infinity_is_marked_and_a_number_beyond_fp64_is_not() -> None:
    """Both parse as infinity; only the one the client wrote may reach a model."""
    written, beyond, negative, nan = parse_json(b"[Infinity, 1e999, -Infinity, NaN]", DEPTH)
    assert (type(written), written) == (InfinityLiteral, math.inf)
    assert (type(negative), negative) == (InfinityLiteral, -math.inf)
    assert (type(beyond), beyond) == (float, math.inf)
    assert math.isnan(nan)


def test_an_escaped_lone_surrogate_is_valid_json_and_stays_text() -> None:
    assert parse_json(b'{"a": "\\ud800"}', DEPTH) == {"a": "\ud800"}


def test_too_deep_a_body_names_the_limit() -> None:
    assert parse_json(b"[" * DEPTH + b"]" * DEPTH, DEPTH) == json.loads(b"[" * DEPTH + b"]" * DEPTH)
    assert refusal(b"[" * (DEPTH + 1) + b"]" * (DEPTH + 1)) == {
        "field": "body",
        "message": f"nested deeper than {DEPTH} levels",
        "expected": f"arrays and objects nested at most {DEPTH} levels deep",
    }


def test_the_deepest_setting_parses() -> None:
    """MAX_JSON_DEPTH's ceiling (256) stays far from the parser's recursion limit."""
    assert parse_json(b"[" * 256 + b"]" * 256, 256) == json.loads(b"[" * 256 + b"]" * 256)


@pytest.mark.parametrize(
    "body",
    [b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000, b"[" * 5000],
    ids=["arrays", "objects", "unclosed"],
)
def test_a_body_5000_levels_deep_never_reaches_the_parser(
    body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Untouchable:
        def decode(self, _: str) -> Any:
            raise AssertionError("the parser was called")

    monkeypatch.setattr(json_body, "_DECODER", Untouchable())
    assert refusal(body)["message"] == f"nested deeper than {DEPTH} levels"


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"sepal_length": 1, "sepal_length": 2}', "sepal_length"),
        (b'[{"a": 1}, {"a": 1, "b": 2, "a": 3}]', "a"),
        (b'{"inputs": [{"name": "x", "name": "y", "data": []}]}', "name"),
        (b'{"inputs": [], "inputs": []}', "inputs"),
        ('{"\u00e9": 1, "\\u00e9": 2}'.encode(), "\u00e9"),  # the same key, escaped or not
    ],
)
def test_a_key_given_twice_in_one_object_is_named(body: bytes, key: str) -> None:
    assert refusal(body) == {
        "field": "body",
        "message": f"key {key!r} given twice in one object",
        "expected": "each key once",
    }


def test_the_same_key_in_different_objects_is_fine() -> None:
    assert parse_json(b'[{"a": 1}, {"a": 2}]', DEPTH) == [{"a": 1}, {"a": 2}]


def test_a_long_repeated_key_is_cut() -> None:
    key = "k" * 5000
    message = refusal(json.dumps({key: 1}).replace("}", f', "{key}": 2}}').encode())["message"]
    assert len(message) < 120
    assert "kkk..." in message


# -- orjson reads first; the standard library's reading is the reference ------------------------


def outcome(read: Any, body: bytes) -> Any:
    """What a reading gives: the value with every type spelled out (1 and 1.0 differ, NaN
    equals NaN, InfinityLiteral is not float), or the refusal."""

    def typed(value: Any) -> Any:
        if isinstance(value, dict):
            return ("dict", [(k, typed(v)) for k, v in value.items()])
        if isinstance(value, list):
            return ("list", [typed(v) for v in value])
        if isinstance(value, float) and math.isnan(value):
            return (type(value).__name__, "nan")
        return (type(value).__name__, value)

    try:
        return typed(read(body, DEPTH))
    except InputError as refused:
        return ("refused", refused.status_code, [e.as_dict() for e in refused.errors])


_SCALARS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.text(alphabet=st.sampled_from('ab:{}[]"\\\u00e9\ud800 1'), max_size=6),
)
_LITERALS = st.sampled_from(
    ["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "18446744073709551616", "1.5e-400"]
)


def _json_text(value: Any) -> str:
    if isinstance(value, tuple):  # (key, value) pairs: a key may come twice
        return "{" + ",".join(f"{json.dumps(k)}:{_json_text(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    if isinstance(value, _Literal):
        return value.text
    return json.dumps(value)


class _Literal:
    def __init__(self, text: str) -> None:
        self.text = text


_VALUES = st.recursive(
    _SCALARS | _LITERALS.map(_Literal),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(
            st.tuples(st.sampled_from(["a", "b", "a:b", "\u00e9", "\\u00e9"]), inner), max_size=4
        ).map(tuple)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(_VALUES, st.sampled_from(["", " ", "\n"]))
def test_every_body_reads_as_the_reference_reads_it(value: Any, space: str) -> None:
    """Values, duplicate keys (also beside colons in strings), literals orjson refuses,
    integers beyond 64 bits, lone surrogates: the outcome is always the reference's."""
    body = (space + _json_text(value) + space).encode("utf-8", "surrogatepass")
    assert outcome(parse_json, body) == outcome(json_body.parse_json_reference, body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "x:y", "a": 1}',  # a colon in a string hides one repeated key from the count
        b'{"a": 1, "b": {"a": 2, "a": 3}}',
        b"[18446744073709551616, -9223372036854775809]",  # orjson reads these as floats
        b"[123456789012345678901234567890]",
        b'["\\ud800"]',
        b"[NaN, Infinity]",
        b"[1e999]",
        b"\xef\xbb\xbf[1]",
        b'{"a": 1}\xff',
    ],
)
def test_what_orjson_reads_differently_goes_to_the_reference(body: bytes) -> None:
    assert outcome(parse_json, body) == outcome(json_body.parse_json_reference, body)


def test_a_plain_body_is_read_by_orjson_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path is taken: the usual bodies never reach the standard library's parser."""

    class Untouchable:
        def decode(self, _: str) -> Any:
            raise AssertionError("the reference parser was called")

    monkeypatch.setattr(json_body, "_DECODER", Untouchable())
    body = b'{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1.5, 2]}]}'
    assert parse_json(body, DEPTH) == json.loads(body)
    assert parse_json(b'[{"a": "12:30", "b": 1}]', DEPTH) == [{"a": "12:30", "b": 1}]


def test_encoding_falls_back_to_the_standard_library_for_what_orjson_cannot_encode() -> None:
    assert json.loads(json_body.encode_json({"a": [1, 0.5, "\u00e9", None]})) == {
        "a": [1, 0.5, "\u00e9", None]
    }
    assert json_body.encode_json([2**70]) == b"[1180591620717411303424]"
    assert json_body.encode_json(["\ud800"]) == b'["\\ud800"]'
