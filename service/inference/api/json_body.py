"""A request body -> its JSON value, or a 400 naming what is wrong with it.

The one place that knows the parser (the standard library's json module). The rules besides
the grammar live in json_rules.py and number_ranges.py; a faster parser replaces this module
and applies the same rules: UTF-8 only (RFC 8259 section 8.1), nesting at most
`MAX_JSON_DEPTH` deep checked before parsing, no key twice in one object, and the literal
`Infinity` told apart from a number too large for FP64 (number_ranges.InfinityLiteral).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from inference.api.json_rules import nesting_depth_exceeds, repeated_key
from inference.models.number_ranges import InfinityLiteral
from inference.models.schema import FieldError, InputError

# A repeated key is named in the error; a long one is cut (the error never sends back more
# than this of what the client sent).
_KEY_CHARS = 60


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The parser's object hook: a dict, unless a key appears twice."""
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
