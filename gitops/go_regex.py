"""Translate Go RE2 `pattern`s from CRD schemas into Python `re` syntax.

Translated: inline flag groups such as `(?i)` that are not at the start of the pattern
(RE2 applies them to the rest of the enclosing group; Python only accepts them first) become
a scoped group `(?i:...)` over the rest of the pattern when they sit at the top level; `\\z`
becomes `\\Z`; `\\Q...\\E` literals are escaped; POSIX classes like `[[:alpha:]]` are expanded.
Dropped (the field is then checked without its pattern, and the pattern is listed by
`dropped_patterns()`): Unicode classes `\\p{..}`/`\\pL`, flag groups nested inside a group,
and anything else Python's `re` still refuses after translation.
"""

from __future__ import annotations

import re

_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_FLAGS = re.compile(r"\(\?([imsU]+)\)")
_dropped: set[str] = set()


def dropped_patterns() -> list[str]:
    return sorted(_dropped)


def translate(pattern: str) -> str | None:
    """Python equivalent of a Go RE2 pattern, or None when it can't be translated safely."""
    if re.search(r"\\p[{A-Za-z]|\\P[{A-Za-z]", pattern):
        return _drop(pattern)
    text = re.sub(r"\\Q(.*?)(\\E|$)", lambda m: re.escape(m.group(1)), pattern)
    text = text.replace("\\z", "\\Z")
    text = re.sub(r"\[:(\^?)([a-z]+):\]", _posix, text)
    text = _scope_inline_flags(text)
    if text is None:
        return _drop(pattern)
    try:
        re.compile(text)
    except re.error:
        return _drop(pattern)
    return text


def _posix(match: re.Match[str]) -> str:
    negate, name = match.groups()
    if negate or name not in _POSIX:
        return match.group(0)  # left as is: compile() decides, and drops it if invalid
    return _POSIX[name]


def _scope_inline_flags(text: str) -> str | None:
    match = _FLAGS.search(text)
    if match is None:
        return text
    if "U" in match.group(1):
        return None  # RE2's ungreedy flag has no Python counterpart
    if match.start() == 0:
        rest = _scope_inline_flags(text[match.end() :])
        return None if rest is None else text[: match.end()] + rest
    if _depth(text[: match.start()]) != 0:
        return None
    rest = _scope_inline_flags(text[match.end() :])
    if rest is None:
        return None
    return f"{text[: match.start()]}(?{match.group(1)}:{rest})"


def _depth(prefix: str) -> int:
    """Open-group depth at the end of `prefix`, ignoring escapes and character classes."""
    depth, i, in_class = 0, 0, False
    while i < len(prefix):
        char = prefix[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        i += 1
    return depth


def _drop(pattern: str) -> str | None:
    _dropped.add(pattern)
    return None  # the caller returns this: "no usable translation"
