"""The numbers each numeric tensor datatype holds, and which values of a request lie beyond.

A value beyond its datatype is refused, never cast: cast, it would become infinity (a float
type) or wrap around (an integer type), and the model would answer for a value the request
did not contain. Rounding to the nearest value a float type holds is not refused: every float
conversion rounds.

Datatypes: the Open Inference Protocol's numeric ones (kserve/open-inference-protocol,
required_api.md "Tensor Data Types"). Float limits: the largest finite value of IEEE 754
binary16/32/64, (2 - 2**-p) * 2**emax with p the fraction bits and emax the largest exponent.
These are plain functions on plain values, independent of the JSON parser and the web
framework, so any hot path applies the same rules.
"""

from __future__ import annotations

import math
from typing import Any

FLOAT_MAX: dict[str, float] = {
    "FP16": (2 - 2**-10) * 2.0**15,
    "FP32": (2 - 2**-23) * 2.0**127,
    "FP64": (2 - 2**-52) * 2.0**1023,
}
INTEGER_RANGES: dict[str, tuple[int, int]] = {
    **{f"INT{bits}": (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) for bits in (8, 16, 32, 64)},
    **{f"UINT{bits}": (0, 2**bits - 1) for bits in (8, 16, 32, 64)},
}
NUMERIC_DATATYPES = frozenset(FLOAT_MAX) | frozenset(INTEGER_RANGES)


class InfinityLiteral(float):
    """Infinity as the client wrote it (`Infinity`, `-Infinity`: not JSON, an extension the
    standard library's parser reads), marked so by the parser. Any other float infinity came
    from a number beyond FP64 (1e999), which a parser can only read as infinity: the client
    sent a number, not infinity, so it is out of range."""


def bounds(datatype: str) -> tuple[float, float]:
    """The smallest and the largest value `datatype` holds."""
    if datatype in FLOAT_MAX:
        return -FLOAT_MAX[datatype], FLOAT_MAX[datatype]
    low, high = INTEGER_RANGES[datatype]
    return low, high


def describe(datatype: str) -> str:
    """What a value of `datatype` must be, for an error's `expected`."""
    if datatype in FLOAT_MAX:
        return f"a number within ±{FLOAT_MAX[datatype]:.8g} ({datatype})"
    low, high = INTEGER_RANGES[datatype]
    return f"an integer in [{low}, {high}] ({datatype})"


def out_of_range(datatype: str, value: Any) -> bool:
    """Whether the number `value` lies beyond what `datatype` holds.

    Only numbers are judged: a string, a boolean or null is the type check's business, and so
    are NaN and an infinity literal in a float type (a model may accept them). An infinity
    that is not a literal is a number beyond FP64. An integer type holds integers only: 3.0
    is 3, but 2.5, NaN and infinity are out of its range.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if datatype in FLOAT_MAX:
        if isinstance(value, float) and (math.isnan(value) or type(value) is InfinityLiteral):
            return False
        limit = FLOAT_MAX[datatype]
        return not -limit <= value <= limit  # exact for integers of any size
    low, high = INTEGER_RANGES[datatype]
    if isinstance(value, float) and not value.is_integer():  # also NaN and infinity
        return True
    return not low <= value <= high


def first_out_of_range(datatype: str, values: list[Any]) -> int | None:
    """The index of the first of `values` beyond `datatype`'s range, or None.

    The usual tensor (numbers only, all within range) is settled by min() and max() at C
    speed; anything else (other types, NaN, infinity, a value beyond) is looked at one value
    at a time. max() of a list starting with NaN is NaN, and a NaN later on is never picked, so
    a finite max() within the limits means every number is.
    """
    if datatype not in NUMERIC_DATATYPES or not values:
        return None
    low, high = bounds(datatype)
    try:
        within = low <= min(values) and max(values) <= high
    except TypeError:  # a string, null, an array among the numbers
        within = False
    if within and (datatype in FLOAT_MAX or all(type(v) is int for v in values)):
        return None
    for index, value in enumerate(values):
        if out_of_range(datatype, value):
            return index
    return None
