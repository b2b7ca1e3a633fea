"""inference.models.number_ranges: what each numeric tensor datatype holds, checked against
numpy's own limits, and which values lie beyond it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inference.models.number_ranges import (
    FLOAT_MAX,
    INTEGER_RANGES,
    NUMERIC_DATATYPES,
    InfinityLiteral,
    describe,
    first_out_of_range,
    out_of_range,
)

NUMPY_TYPES = {
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    **{f"INT{b}": getattr(np, f"int{b}") for b in (8, 16, 32, 64)},
    **{f"UINT{b}": getattr(np, f"uint{b}") for b in (8, 16, 32, 64)},
}


def test_every_numeric_datatype_of_the_protocol_is_known() -> None:
    assert set(NUMPY_TYPES) == NUMERIC_DATATYPES


@pytest.mark.parametrize("datatype", sorted(FLOAT_MAX))
def test_float_limits_are_numpys(datatype: str) -> None:
    assert FLOAT_MAX[datatype] == float(np.finfo(NUMPY_TYPES[datatype]).max)


@pytest.mark.parametrize("datatype", sorted(INTEGER_RANGES))
def test_integer_ranges_are_numpys(datatype: str) -> None:
    info = np.iinfo(NUMPY_TYPES[datatype])
    assert INTEGER_RANGES[datatype] == (int(info.min), int(info.max))


@pytest.mark.parametrize("datatype", sorted(FLOAT_MAX))
def test_a_float_beyond_its_type_is_out_of_range_and_would_cast_to_infinity(datatype: str) -> None:
    limit = FLOAT_MAX[datatype]
    beyond = limit * 1.01 if datatype != "FP64" else 10**309  # FP64: only an integer is beyond
    assert not out_of_range(datatype, limit)
    assert not out_of_range(datatype, -limit)
    assert out_of_range(datatype, beyond)
    assert out_of_range(datatype, -beyond)
    if datatype != "FP64":
        with np.errstate(over="ignore"):
            assert math.isinf(float(np.asarray([beyond], dtype=NUMPY_TYPES[datatype])[0]))


@pytest.mark.parametrize("datatype", sorted(INTEGER_RANGES))
def test_an_integer_beyond_its_type_is_out_of_range(datatype: str) -> None:
    low, high = INTEGER_RANGES[datatype]
    assert not out_of_range(datatype, low)
    assert not out_of_range(datatype, high)
    assert not out_of_range(datatype, float(min(high, 2**52)))  # 3.0 is 3
    assert out_of_range(datatype, low - 1)
    assert out_of_range(datatype, high + 1)
    assert out_of_range(datatype, 2.5)


@pytest.mark.parametrize(
    ("datatype", "value"),
    [
        ("FP32", math.nan),  # NaN and written infinity: the schema's rules, per model
        ("FP32", InfinityLiteral("inf")),
        ("FP16", "1e300"),  # not a number: the type check's business
        ("INT8", True),
        ("INT8", None),
    ],
)
def test_only_numbers_are_judged(datatype: str, value: Any) -> None:
    assert not out_of_range(datatype, value)


@pytest.mark.parametrize("value", [math.nan, InfinityLiteral("inf"), -math.inf])
def test_an_integer_type_holds_no_nan_or_infinity(value: float) -> None:
    assert out_of_range("INT64", value)


@pytest.mark.parametrize("datatype", sorted(FLOAT_MAX))
def test_an_infinity_not_written_as_such_is_a_number_beyond_fp64(datatype: str) -> None:
    assert out_of_range(datatype, math.inf)
    assert out_of_range(datatype, -math.inf)


def test_describe_names_the_range() -> None:
    assert describe("INT8") == "an integer in [-128, 127] (INT8)"
    assert describe("FP32") == "a number within ±3.4028235e+38 (FP32)"


_ELEMENTS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and infinity included
    st.sampled_from([InfinityLiteral("inf"), InfinityLiteral("-inf")]),
    st.floats(min_value=-1e6, max_value=1e6),
    st.sampled_from([65504.0, 65520.0, 3.4028234663852886e38, 3.5e38, 127, 128, -129, 255, 256]),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
)


@given(datatype=st.sampled_from(sorted(NUMERIC_DATATYPES)), values=st.lists(_ELEMENTS))
def test_the_fast_check_finds_what_the_element_check_finds(
    datatype: str, values: list[Any]
) -> None:
    expected = next((i for i, v in enumerate(values) if out_of_range(datatype, v)), None)
    assert first_out_of_range(datatype, values) == expected


def test_other_datatypes_are_not_judged() -> None:
    assert first_out_of_range("BYTES", ["x"]) is None
    assert first_out_of_range("BOOL", [True]) is None
