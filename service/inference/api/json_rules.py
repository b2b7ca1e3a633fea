"""What a request body must be beyond the JSON grammar: nested at most so deep, and no key
twice in one object.

Plain functions on bytes and keys, independent of the parser and the web framework: any
parser the hot path uses applies them (json_body.py applies them to orjson's reading and to
the standard library's).

- Depth is measured before parsing, without parsing and without recursion: a parser that
  recurses once per level (the standard library's does) never sees a body deeper than the
  limit, so 5,000 levels cost a scan, not a RecursionError.
- A repeated key is ambiguous: RFC 8259 section 4 says the names within an object SHOULD be
  unique, and that software receiving an object whose names are not behaves unpredictably
  (most parsers keep the last value, some the first). A prediction is refused rather than
  computed on a value the client may not have meant. The standard library's parser names the
  key through its object hook; a parser without one (orjson) keeps the last value, and
  `keys_may_repeat` tells from the body and the value whether it may have dropped one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# A JSON string: its quotes and everything between them, escapes included; an unterminated one
# runs to the end of the body. Possessive quantifiers and the open end make every match
# succeed without backtracking, so the scan stays linear whatever the body (no retry from each
# escaped quote of `"\"\"\"...`).
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
# Brackets of either kind as parentheses, everything else deleted (bytes.translate).
_PARENTHESES = bytes.maketrans(b"[]{}", b"()()")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _outside_strings(body: bytes) -> bytes:
    """`body` without its strings, whose brackets are text, not structure."""
    if b"\\" not in body:
        # No escapes: every quote opens or closes a string, so the strings are the odd pieces.
        return b"".join(body.split(b'"')[::2])
    return _STRING.sub(b"", body)


def nesting_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether arrays and objects in `body` nest deeper than `limit`.

    The depth counted is the most brackets open at once outside strings: what a recursive
    parser would descend into before it could find anything wrong. With everything but the
    brackets deleted, a run of opening brackets is a nest, one level each; each pass removes
    the innermost pairs, one level. What no pass can remove is unmatched (a malformed body,
    like an unclosed `[[[[...`); its opening brackets count as levels, as a parser would
    descend into them. Every step is a C-speed bytes operation; nothing recurses, whatever
    the depth, and a deep body is caught by its run of openings before any pass.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # the usual body: it has no more brackets than the limit
    brackets = _outside_strings(body).translate(_PARENTHESES, _NOT_BRACKETS)
    removed = 0
    while brackets:
        if b"(" * (limit + 1 - removed) in brackets:
            return True  # a nest of that many more levels inside what passes removed
        inner_removed = brackets.replace(b"()", b"")
        if inner_removed == brackets:
            return removed + brackets.count(b"(") > limit
        removed += 1
        brackets = inner_removed
    return False


def repeated_key(keys: Iterable[str]) -> str | None:
    """The first key that appears a second time among one object's `keys`, or None."""
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            return key
        seen.add(key)
    return None


def _members(value: Any, objects: int) -> int:
    """Keys of the objects in a parsed `value`, searched until `objects` objects are found
    (no more can be there): a body with one object around a list of rows is not walked."""
    if type(value) is not dict and type(value) is not list:
        return 0
    members = 0
    pending = [value]
    while pending and objects:
        item = pending.pop()
        if type(item) is dict:
            objects -= 1
            members += len(item)
            pending += [v for v in item.values() if type(v) is dict or type(v) is list]
        else:
            pending += [v for v in item if type(v) is dict or type(v) is list]
    return members


def keys_may_repeat(body: bytes, value: Any) -> bool:
    """Whether a parser that keeps one value per key (a dict) may have dropped a key of
    `body`, whose parsed value is `value`: False proves that no key appears twice.

    Every key in a body is followed by exactly one colon outside strings, so a body holds as
    many keys as it has such colons. When the parsed value has as many keys as the body has
    colons, even counting those in strings, nothing was dropped; only a body with colons in its
    strings (a text feature "12:30") pays for the exact count.
    """
    colons = body.count(b":")
    if not colons:
        return False
    members = _members(value, body.count(b"{"))
    if members == colons:
        return False
    return _outside_strings(body).count(b":") != members
