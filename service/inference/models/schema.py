"""The request schema, derived from the model's MLflow signature.

Validation works on plain JSON values and produces rows in signature order; building the
model's input (array or DataFrame) happens once per model call, not per request.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

from inference.models.number_ranges import FLOAT_MAX, InfinityLiteral, bounds, describe

# MLflow column types -> the JSON type a client must send and the OpenAPI type shown in /docs.
_NUMERIC_TYPES = {"double", "float"}
_INTEGER_TYPES = {"long", "integer"}
_OPENAPI_TYPES = {
    "double": {"type": "number", "format": "double"},
    "float": {"type": "number", "format": "float"},
    "long": {"type": "integer", "format": "int64"},
    "integer": {"type": "integer", "format": "int32"},
    "boolean": {"type": "boolean"},
    "string": {"type": "string"},
}
SUPPORTED_TYPES = frozenset(_OPENAPI_TYPES)
# Python types a JSON value may have to be plainly valid for a column (bool is not int here:
# the check is on exact types). Anything else, like nulls and NaN, gets the full check.
_PLAIN_TYPES: dict[str, frozenset[type]] = {
    "double": frozenset({float, int}),
    "float": frozenset({float, int}),
    "long": frozenset({int}),
    "integer": frozenset({int}),
    "boolean": frozenset({bool}),
    "string": frozenset({str}),
}
# The datatype whose range bounds each numeric column type: MLflow's double and float are 64-
# and 32-bit floats, long and integer 64- and 32-bit signed integers (mlflow/mlflow v3.17.2,
# mlflow/types/schema.py, class DataType).
_COLUMN_DATATYPES = {"double": "FP64", "float": "FP32", "long": "INT64", "integer": "INT32"}
MAX_REPORTED_ERRORS = 10
# The bound of a string column in the fast check: its value must be text (see below).
_TEXT = object()
# A field name holds a client's key when the key is unknown; a longer key is cut, so an error
# never sends back more than this of what the client sent.
MAX_FIELD_CHARS = 120


def _has_lone_surrogate(value: str) -> bool:
    """Whether `value` holds a code point of U+D800..U+DFFF: JSON lets a string escape one
    (`"\\ud800"`), RFC 8259 section 8.2 calls what receivers do with it unpredictable, and
    text models fail on it (it cannot be encoded). A valid escaped pair is one character."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@dataclass(frozen=True)
class FieldError:
    """One problem with the input: where it is and what was expected there."""

    field: str
    message: str
    expected: str

    def as_dict(self) -> dict[str, str]:
        field = self.field
        if len(field) > MAX_FIELD_CHARS:
            field = field[: MAX_FIELD_CHARS - 3] + "..."
        return {"field": field, "message": self.message, "expected": self.expected}


class InputError(Exception):
    """The client sent something the model cannot take; maps to a 4xx response."""

    def __init__(self, errors: list[FieldError], status_code: int = 422) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors
        self.status_code = status_code


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = True

    @property
    def expected(self) -> str:
        if self.type in _NUMERIC_TYPES:
            return f"number ({self.type})"
        if self.type in _INTEGER_TYPES:
            return f"integer ({self.type})"
        return self.type


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@dataclass
class InputSchema:
    """Column-based input schema of one model version."""

    columns: tuple[Column, ...]
    allow_nan: bool = False
    allow_inf: bool = False
    # The float datatype the runtime feeds the model (set by ServedModel.prepare): a number
    # beyond it would reach the model as infinity, so it bounds every float column too.
    model_float: str = "FP64"
    _index: dict[str, int] = field(init=False, repr=False)
    _plain: tuple[frozenset[type], ...] = field(init=False, repr=False)
    _datatypes: tuple[str | None, ...] = field(init=False, repr=False)
    _bounds: tuple[Any, ...] = field(init=False, repr=False)  # (low, high), _TEXT or None

    def __post_init__(self) -> None:
        self._index = {c.name: i for i, c in enumerate(self.columns)}
        self._plain = tuple(_PLAIN_TYPES[c.type] for c in self.columns)
        self.feed_floats_as(self.model_float)

    def feed_floats_as(self, datatype: str) -> None:
        """The model takes its numbers as `datatype` (FP32 or FP64): bound the columns by it."""
        self.model_float = datatype
        self._datatypes = tuple(self._datatype_of(c) for c in self.columns)
        self._bounds = tuple(
            _TEXT if c.type == "string" else bounds(d) if d else None
            for c, d in zip(self.columns, self._datatypes, strict=True)
        )

    def _datatype_of(self, column: Column) -> str | None:
        """The datatype whose range a value of `column` must lie in: its own type's, or the
        model's float type when that holds less."""
        datatype = _COLUMN_DATATYPES.get(column.type)
        if datatype in FLOAT_MAX and FLOAT_MAX[self.model_float] < FLOAT_MAX[datatype]:
            return self.model_float
        return datatype

    def _plainly_valid(self, row: list[Any]) -> bool:
        """True when every value is of a plain accepted type and within its range: the usual
        request. False only means "check each value", which builds the error messages. NaN and
        infinity fail the range comparison, so they get the full check too."""
        for value, accepted, bound in zip(row, self._plain, self._bounds, strict=True):
            if type(value) not in accepted:
                return False
            if bound is None:
                continue
            if bound is _TEXT:
                if not value.isascii():  # ASCII holds no surrogate; anything else: check
                    return False
            elif not bound[0] <= value <= bound[1]:
                return False
        return True

    @functools.cached_property
    def names(self) -> list[str]:
        """The column names in signature order (read on every v2 and dataframe_split request:
        built once; never to be changed by a caller)."""
        return [c.name for c in self.columns]

    @functools.cached_property
    def column_types(self) -> tuple[str, ...]:
        return tuple(c.type for c in self.columns)

    @property
    def all_numeric(self) -> bool:
        return all(c.type in _NUMERIC_TYPES | _INTEGER_TYPES for c in self.columns)

    @classmethod
    def from_signature_inputs(cls, inputs: list[dict[str, Any]]) -> InputSchema:
        """Build from the `inputs` list of an MLflow signature (its to_dict() form, parsed)."""
        columns = []
        for spec in inputs:
            if "name" not in spec or spec.get("type") not in SUPPORTED_TYPES:
                raise ValueError(
                    "the model's signature must be column-based with named columns of types "
                    f"{sorted(SUPPORTED_TYPES)}; got {spec}"
                )
            columns.append(Column(spec["name"], spec["type"], spec.get("required", True)))
        if not columns:
            raise ValueError("the model's signature has no input columns")
        return cls(tuple(columns))

    # -- validation ---------------------------------------------------------------------------

    def check_value(self, column: Column, value: Any, where: str) -> FieldError | None:
        """Return a FieldError if `value` can't go into `column`, else None."""
        kind = column.type
        if value is None:
            if column.required:
                return FieldError(where, "value is null", column.expected)
            return None
        if kind in _NUMERIC_TYPES:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return FieldError(where, f"got {_json_type(value)}", column.expected)
            if isinstance(value, float) and math.isnan(value):
                if not self.allow_nan:
                    return FieldError(where, "NaN is not accepted by this model", "finite number")
                return None
            if type(value) is InfinityLiteral:  # any other infinity is a number beyond FP64
                if not self.allow_inf:
                    return FieldError(where, "infinity is not accepted", "finite number")
                return None
            return self._range_problem(column, value, where)
        if kind in _INTEGER_TYPES:
            if isinstance(value, bool) or not isinstance(value, int):
                return FieldError(where, f"got {_json_type(value)}", column.expected)
            return self._range_problem(column, value, where)
        if kind == "boolean":
            if not isinstance(value, bool):
                return FieldError(where, f"got {_json_type(value)}", "boolean")
            return None
        if not isinstance(value, str):
            return FieldError(where, f"got {_json_type(value)}", "string")
        if not value.isascii() and _has_lone_surrogate(value):
            return FieldError(where, "holds a lone surrogate", "a string of Unicode characters")
        return None

    def _range_problem(self, column: Column, value: float, where: str) -> FieldError | None:
        """A number beyond the range of its column, or of what the model takes: never cast
        into infinity or a wrapped integer."""
        datatype = self._datatypes[self._index[column.name]]
        if datatype is None:
            return None
        low, high = bounds(datatype)
        if low <= value <= high:
            return None
        if datatype == _COLUMN_DATATYPES[column.type]:
            return FieldError(where, f"out of range for {column.type}", describe(datatype))
        return FieldError(where, f"out of range: the model takes {datatype}", describe(datatype))

    def rows_from_records(self, records: list[Any], where: str) -> list[list[Any]]:
        """Objects keyed by feature name -> rows in signature order."""
        errors: list[FieldError] = []
        rows: list[list[Any]] = []
        columns = self.columns
        for i, record in enumerate(records):
            at = f"{where}[{i}]"
            if not isinstance(record, dict):
                errors.append(
                    FieldError(at, f"got {_json_type(record)}", "object keyed by feature name")
                )
                continue
            for key in record:
                if key not in self._index:
                    errors.append(
                        FieldError(f"{at}.{key}", "unknown feature", f"one of {self.names}")
                    )
            row = []
            for column in columns:
                if column.name not in record:
                    if column.required:
                        errors.append(
                            FieldError(f"{at}.{column.name}", "missing feature", column.expected)
                        )
                    row.append(None)
                    continue
                value = record[column.name]
                problem = self.check_value(column, value, f"{at}.{column.name}")
                if problem:
                    errors.append(problem)
                row.append(value)
            rows.append(row)
            if len(errors) >= MAX_REPORTED_ERRORS:
                break
        if errors:
            raise InputError(errors[:MAX_REPORTED_ERRORS])
        return rows

    def rows_from_lists(
        self, rows: list[Any], where: str, columns: list[str] | None = None
    ) -> list[list[Any]]:
        """Rows given positionally (signature order, or the order of `columns`) -> rows."""
        if columns is not None:
            return self._rows_from_named_columns(rows, where, columns)
        errors: list[FieldError] = []
        width = len(self.columns)
        for i, row in enumerate(rows):
            at = f"{where}[{i}]"
            if not isinstance(row, list):
                errors.append(
                    FieldError(
                        at, f"got {_json_type(row)}", f"array of {width} values {self.names}"
                    )
                )
            elif len(row) != width:
                errors.append(
                    FieldError(
                        at, f"got {len(row)} values", f"{width} values in order {self.names}"
                    )
                )
            elif not self._plainly_valid(row):
                for column, value in zip(self.columns, row, strict=True):
                    problem = self.check_value(column, value, f"{at}.{column.name}")
                    if problem:
                        errors.append(problem)
            if len(errors) >= MAX_REPORTED_ERRORS:
                break
        if errors:
            raise InputError(errors[:MAX_REPORTED_ERRORS])
        return rows

    def admits(self, rows: list[list[Any]]) -> bool:
        """Whether this version takes every value of `rows`, which another version's schema
        with the same columns accepted: its ranges, NaN and infinity may differ (a float32
        runtime, a model that refuses NaN)."""
        try:
            self.rows_from_lists(rows, "rows")
        except InputError:
            return False
        return True

    def _rows_from_named_columns(
        self, rows: list[Any], where: str, columns: list[str]
    ) -> list[list[Any]]:
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise InputError([FieldError(f"{where}.columns", "invalid", "array of column names")])
        unknown = [c for c in columns if c not in self._index]
        missing = [c.name for c in self.columns if c.required and c.name not in columns]
        errors = [
            FieldError(f"{where}.columns", f"unknown feature {c!r}", f"one of {self.names}")
            for c in unknown
        ] + [
            FieldError(f"{where}.columns", f"missing feature {c!r}", f"all of {self.names}")
            for c in missing
        ]
        if len(set(columns)) != len(columns):
            errors.append(FieldError(f"{where}.columns", "duplicate names", "unique column names"))
        if errors:
            raise InputError(errors[:MAX_REPORTED_ERRORS])
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(columns):
                raise InputError(
                    [
                        FieldError(
                            f"{where}.data[{i}]",
                            f"got {_json_type(row)}",
                            f"array of {len(columns)} values in the order of columns",
                        )
                    ]
                )
        # Reordered into signature order (absent optional columns as null), the rows get the
        # positional checks, which name fields exactly as the record checks would.
        if columns != self.names:
            position = {name: i for i, name in enumerate(columns)}
            picks = [position.get(c.name) for c in self.columns]
            rows = [[None if p is None else row[p] for p in picks] for row in rows]
        return self.rows_from_lists(rows, f"{where}.data")

    # -- documentation ------------------------------------------------------------------------

    def openapi_record(self) -> dict[str, Any]:
        """JSON schema of one record, for the OpenAPI document."""
        return {
            "type": "object",
            "properties": {c.name: dict(_OPENAPI_TYPES[c.type]) for c in self.columns},
            "required": [c.name for c in self.columns if c.required],
            "additionalProperties": False,
        }

    def openapi_row(self) -> dict[str, Any]:
        return {
            "type": "array",
            "description": f"values in signature order: {self.names}",
            "prefixItems": [dict(_OPENAPI_TYPES[c.type]) for c in self.columns],
            "minItems": len(self.columns),
            "maxItems": len(self.columns),
        }
