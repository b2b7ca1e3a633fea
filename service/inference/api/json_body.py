"""A request body -> its JSON value, or a 400 naming what is wrong with it; a response -> bytes.

The one place that knows the parsers. orjson reads every body first: it is several times
faster than the standard library's json module on the bodies the service gets. The standard
library's decoder (with the rules below) stays the reference: a body orjson refuses, or one
whose value orjson could read differently, is read again by it, so every refusal and every
value is the one the reference gives. The rules besides the grammar live in json_rules.py and
number_ranges.py: UTF-8 only (RFC 8259 section 8.1), nesting at most `MAX_JSON_DEPTH` deep
checked before either parser sees the body, no key twice in one object, and the literal
`Infinity` told apart from a number too large for FP64 (number_ranges.InfinityLiteral).

What orjson does differently, and what sends a body to the reference (orjson 3.13.0, README
"Deserialize"): it refuses `NaN`, `Infinity`, escaped lone surrogates (`"\\ud800"`) and
numbers beyond FP64 (`1e999`), all of which the reference reads; it keeps the last value of a
key given twice (json_rules.keys_may_repeat finds those); and it reads an integer beyond 64
bits as a float, so a body with a run of 19 digits goes to the reference, which keeps it exact.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import orjson

from inference.api.json_rules import keys_may_repeat, nesting_depth_exceeds, repeated_key
from inference.models.number_ranges import InfinityLiteral
from inference.models.schema import FieldError, InputError

# A repeated key is named in the error; a long one is cut (the error never sends back more
# than this of what the client sent).
_KEY_CHARS = 60
# The shortest integer orjson may not hold exactly: 19 digits reach beyond INT64's 9.2e18.
# A float with that many digits in a row is read by the reference too, to the same value.
# Found by turning every digit into "0" and searching for 19 of them (C-speed, unlike a regex
# trying every position).
_LONG_DIGITS = b"0" * 19
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The reference parser's object hook: a dict, unless a key appears twice."""
    built = dict(pairs)
    if len(built) != len(pairs):
        raise _RepeatedKey(repeated_key(key for key, _ in pairs) or "")
    return built


# Called only for these three words, never for numbers: marking infinity as written costs the
# usual body nothing, and tells it apart from a number beyond FP64 the parser reads as inf.
_CONSTANTS = {
    "Infinity": InfinityLiteral("inf"),
    "-Infinity": InfinityLiteral("-inf"),
    "NaN": float("nan"),
}
_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_CONSTANTS.__getitem__)


def _refused(message: str, expected: str) -> InputError:
    return InputError([FieldError("body", message, expected)], status_code=400)


def parse_json(body: bytes, max_depth: int) -> Any:
    """The body's JSON value: orjson's when it is sure to be the reference's, else the
    reference's (which also decides every refusal)."""
    if nesting_depth_exceeds(body, max_depth) or _LONG_DIGITS in body.translate(_DIGITS_AS_ZERO):
        return parse_json_reference(body, max_depth)
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return parse_json_reference(body, max_depth)
    if keys_may_repeat(body, value):
        return parse_json_reference(body, max_depth)
    return value


def parse_json_reference(body: bytes, max_depth: int) -> Any:
    """The standard library's reading of the body, with every rule applied."""
    if not body:
        raise _refused("empty body", "a JSON document")
    try:
        # Strict UTF-8: the standard library would also guess UTF-16 and UTF-32, and let
        # encoded surrogates through.
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _refused("not UTF-8 text", "a UTF-8 encoded JSON document") from None
    if nesting_depth_exceeds(body, max_depth):
        raise _refused(
            f"nested deeper than {max_depth} levels",
            f"arrays and objects nested at most {max_depth} levels deep",
        )
    try:
        return _DECODER.decode(text)
    except _RepeatedKey as exc:
        key = exc.key if len(exc.key) <= _KEY_CHARS else exc.key[: _KEY_CHARS - 3] + "..."
        raise _refused(f"key {key!r} given twice in one object", "each key once") from None
    except json.JSONDecodeError as exc:
        raise _refused(f"malformed JSON at line {exc.lineno} column {exc.colno}", "JSON") from None
    except ValueError:
        # The only other refusal of the parser: an integer longer than the interpreter
        # converts (sys.get_int_max_str_digits), far beyond any datatype's range anyway.
        raise _refused(
            "a number with too many digits",
            f"numbers of at most {sys.get_int_max_str_digits()} digits",
        ) from None


def encode_json(payload: Any) -> bytes:
    """`payload` as compact JSON. orjson writes NaN and infinity as null where the standard
    library refuses them: a caller whose payload may hold them checks first (ValueError is
    what the standard library raises). What orjson cannot encode (a type it does not know, an
    integer beyond 64 bits) the standard library does, or refuses as it always has."""
    try:
        return orjson.dumps(payload)
    except TypeError:
        return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
