"""Metric names referenced by a PromQL expression, found by a small tokenizer.

promtool 2.42 can parse PromQL but cannot print what it parsed, so the names are found
here: an identifier is a metric name unless it is a function or aggregation (followed by
`(`), a keyword, or a label name (inside `{...}` or a `by/without/on/ignoring/group_*`
list). Strings, durations and numbers are skipped.
"""

from __future__ import annotations

import re

AGGREGATIONS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    }
)
# Followed by a parenthesised list of label names, which are not metrics.
LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"})

_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(r"(0[xX][0-9a-fA-F]+|[0-9.][0-9A-Za-z_.]*)([eE][+-]?[0-9]+)?")
_NAME_MATCHER = re.compile(r"__name__\s*=\s*\"([^\"]+)\"")


class PromQLSyntaxError(ValueError):
    """The expression is unbalanced or has an unterminated string."""


def _skip_string(expr: str, start: int) -> int:
    """Index just past the string literal that opens at `start`."""
    quote = expr[start]
    index = start + 1
    while index < len(expr):
        char = expr[index]
        if char == "\\" and quote != "`":
            index += 2
            continue
        if char == quote:
            return index + 1
        index += 1
    raise PromQLSyntaxError(f"unterminated string at offset {start} in {expr!r}")


def _skip_group(expr: str, start: int, close: str) -> int:
    """Index just past the bracket that closes the one at `start`, minding strings."""
    opening = expr[start]
    depth = 0
    index = start
    while index < len(expr):
        char = expr[index]
        if char in "\"'`":
            index = _skip_string(expr, index)
            continue
        if char == opening:
            depth += 1
        elif char == close:
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise PromQLSyntaxError(f"unbalanced {opening!r} at offset {start} in {expr!r}")


def _next_non_space(expr: str, index: int) -> int:
    while index < len(expr) and expr[index].isspace():
        index += 1
    return index


def metric_names(expr: str) -> set[str]:
    """Every metric name `expr` selects, e.g. {"up"} for `sum by (job) (up == 0)`."""
    names: set[str] = set()
    index = 0
    while index < len(expr):
        char = expr[index]
        if char.isspace():
            index += 1
        elif char == "#":
            end = expr.find("\n", index)
            index = len(expr) if end == -1 else end
        elif char in "\"'`":
            index = _skip_string(expr, index)
        elif char == "{":
            end = _skip_group(expr, index, "}")
            # `{__name__="x"}` selects metric x without naming it in front.
            names.update(_NAME_MATCHER.findall(expr[index:end]))
            index = end
        elif char == "[":
            index = _skip_group(expr, index, "]")
        elif char.isdigit() or (char == "." and expr[index + 1 : index + 2].isdigit()):
            match = _NUMBER.match(expr, index)
            assert match is not None
            index = match.end()
        elif match := _IDENTIFIER.match(expr, index):
            word = match.group()
            index = match.end()
            following = _next_non_space(expr, index)
            is_call = following < len(expr) and expr[following] == "("
            if word in LABEL_LIST_KEYWORDS:
                if is_call:
                    index = _skip_group(expr, following, ")")
            elif word in KEYWORDS or word in AGGREGATIONS or is_call:
                continue
            else:
                names.add(word)
        else:
            index += 1
    return names
