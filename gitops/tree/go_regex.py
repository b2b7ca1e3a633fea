"""Go RE2 `pattern`s from CRD schemas, checked with RE2 itself (google-re2).

The API server checks a CRD's `pattern` with Go's regexp, which is RE2 syntax: `(?i)` in the
middle of a pattern, `\\z`, `\\Q...\\E`, POSIX classes and Unicode classes such as `\\p{L}` all
mean what they mean there. Python's `re` refuses or misreads several of them, so the JSON Schema
validator's `pattern` keyword is replaced by one that asks RE2. A pattern RE2 cannot compile
(Go accepts a few constructs google-re2 does not) is skipped for that field and listed by
`dropped_patterns()`, which `validate` reports.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import jsonschema
import re2
from jsonschema.exceptions import ValidationError

_dropped: set[str] = set()


def dropped_patterns() -> list[str]:
    return sorted(_dropped)


@functools.cache
def compile_pattern(pattern: str) -> Any | None:
    """The compiled RE2 program, or None (and listed as dropped) when RE2 refuses it."""
    try:
        return re2.compile(pattern)
    except re2.error:
        _dropped.add(pattern)
        return None


def _pattern_keyword(
    validator: Any, pattern: str, instance: Any, _schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    program = compile_pattern(pattern)
    if program is not None and program.search(instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# Draft 7, as the structural schemas are converted, with RE2 deciding `pattern`.
Re2Draft7Validator = jsonschema.validators.extend(
    jsonschema.Draft7Validator, {"pattern": _pattern_keyword}
)
