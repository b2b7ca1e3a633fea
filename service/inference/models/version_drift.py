"""What a served version brings for drift monitoring: the reference training recorded with it
(training/lifecycle/reference_stats.py writes it into the model folder), parsed as this service
monitors it, and the rows counted into its bins since the version was loaded. The loader
attaches it to the ServedModel, so it swaps with the version; the monitor
(monitoring/drift.py) builds the counts on first use and exports them.

Counting cost: a request of a few rows is binned in plain Python (bisect on the edges, one
list increment per feature); a larger one with one numpy searchsorted per feature and one
bincount. Counts are plain Python/numpy numbers read by a custom collector at scrape time, so
no prometheus_client child is touched per request. They are only touched on the event loop
(serve() and /metrics both run there), so they need no lock.
"""

from __future__ import annotations

import json
import math
import zlib
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from inference.models.schema import InputSchema

REFERENCE_FORMAT = 1
KINDS = ("numeric", "categorical", "hashed")
MISSING_BIN = "missing"
# Up to this many rows, Python's bisect beats numpy: a numpy call costs microseconds before it
# does any work, and a one-row request would pay that for every feature (measured here: the
# paths cross between 10 and 20 rows for 4 to 13 features).
SMALL_REQUEST_ROWS = 16
NO_REFERENCE = (
    "this version has no drift reference (registered before drift monitoring, or not by "
    "`python -m training train`): no drift series are exported for it"
)


class ReferenceError(ValueError):
    """The drift reference document is malformed; the message names the field."""


def category_key(value: Any) -> str:
    """A categorical value as training recorded it (JSON true -> "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def text_bucket(value: Any, buckets: int) -> int:
    """CRC-32 of the UTF-8 text: the same bucket in every process, unlike hash()."""
    return zlib.crc32(str(value).encode("utf-8")) % buckets


@dataclass(frozen=True)
class FeatureReference:
    name: str
    column: int  # position in the version's input schema
    kind: str
    edges: tuple[float, ...]
    values: dict[str, int]
    buckets: int
    ranges: tuple[str, ...]
    shares: tuple[float, ...]
    importance: float
    chance_psi: float
    chance_js_distance: float

    @property
    def bins(self) -> int:
        """Every bin, the missing one (the last) included."""
        return len(self.shares)

    @property
    def missing(self) -> int:
        return len(self.shares) - 1


@dataclass(frozen=True)
class PredictionReference:
    classes: tuple[str, ...]
    shares: tuple[float, ...]
    chance_psi: float
    chance_js_distance: float


@dataclass(frozen=True)
class DriftReference:
    features: tuple[FeatureReference, ...]
    prediction: PredictionReference | None
    window_rows: int
    # "feature: why" for every feature of the document this service does not monitor.
    skipped: tuple[str, ...] = ()


def _number(value: Any, where: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ReferenceError(f"{where}: expected a finite number, got {value!r:.40}")
    if value < minimum:
        raise ReferenceError(f"{where}: expected a number >= {minimum:g}, got {value!r}")
    return float(value)


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ReferenceError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _shares(value: Any, where: str, expected: int) -> tuple[float, ...]:
    items = _list(value, where)
    if len(items) != expected:
        raise ReferenceError(f"{where}: expected {expected} shares, got {len(items)}")
    return tuple(_number(v, f"{where}[{i}]") for i, v in enumerate(items))


def _feature(spec: Any, where: str, column: int) -> FeatureReference:
    if not isinstance(spec, dict):
        raise ReferenceError(f"{where}: expected an object")
    kind = spec.get("kind")
    edges: tuple[float, ...] = ()
    values: dict[str, int] = {}
    buckets = 0
    if kind == "numeric":
        edges = tuple(
            _number(e, f"{where}.edges[{i}]", minimum=-math.inf)
            for i, e in enumerate(_list(spec.get("edges"), f"{where}.edges"))
        )
        if list(edges) != sorted(set(edges)):
            raise ReferenceError(f"{where}.edges: expected strictly increasing numbers")
        value_bins = len(edges) + 1
    elif kind == "categorical":
        names = _list(spec.get("values"), f"{where}.values")
        if not all(isinstance(v, str) for v in names) or len(set(names)) != len(names):
            raise ReferenceError(f"{where}.values: expected distinct strings")
        values = {v: i for i, v in enumerate(names)}
        value_bins = len(names) + 1  # the last is "other"
    elif kind == "hashed":
        buckets = spec.get("buckets")
        if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 1:
            raise ReferenceError(f"{where}.buckets: expected a positive integer")
        value_bins = buckets
    else:
        raise ReferenceError(f"{where}.kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    ranges = _list(spec.get("ranges"), f"{where}.ranges")
    if len(ranges) != value_bins + 1 or not all(isinstance(r, str) for r in ranges):
        raise ReferenceError(f"{where}.ranges: expected {value_bins + 1} strings")
    return FeatureReference(
        name=spec["name"],
        column=column,
        kind=kind,
        edges=edges,
        values=values,
        buckets=buckets,
        ranges=tuple(ranges),
        shares=_shares(spec.get("shares"), f"{where}.shares", value_bins + 1),
        importance=_number(spec.get("importance"), f"{where}.importance"),
        chance_psi=_number(spec.get("chance_psi"), f"{where}.chance_psi"),
        chance_js_distance=_number(spec.get("chance_js_distance"), f"{where}.chance_js_distance"),
    )


def _prediction(spec: Any) -> PredictionReference | None:
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ReferenceError("prediction: expected an object or null")
    classes = _list(spec.get("classes"), "prediction.classes")
    if not all(isinstance(c, str) for c in classes) or len(set(classes)) != len(classes):
        raise ReferenceError("prediction.classes: expected distinct strings")
    return PredictionReference(
        classes=tuple(classes),
        shares=_shares(spec.get("shares"), "prediction.shares", len(classes)),
        chance_psi=_number(spec.get("chance_psi"), "prediction.chance_psi"),
        chance_js_distance=_number(spec.get("chance_js_distance"), "prediction.chance_js_distance"),
    )


def parse_reference(
    document: Any, schema: InputSchema, max_features: int, max_bins: int
) -> DriftReference:
    """The reference as this service monitors it: features of the schema only, at most
    `max_features` (the most important) with at most `max_bins` bins besides the missing one."""
    if not isinstance(document, dict):
        raise ReferenceError("expected a JSON object")
    if document.get("format") != REFERENCE_FORMAT:
        raise ReferenceError(
            f"format: expected {REFERENCE_FORMAT}, got {document.get('format')!r} "
            "(a newer training wrote it; upgrade the service)"
        )
    window_rows = document.get("window_rows")
    if isinstance(window_rows, bool) or not isinstance(window_rows, int) or window_rows < 1:
        raise ReferenceError("window_rows: expected a positive integer")
    columns = {name: i for i, name in enumerate(schema.names)}
    found, skipped = [], []
    for i, spec in enumerate(_list(document.get("features"), "features")):
        name = spec.get("name") if isinstance(spec, dict) else None
        if not isinstance(name, str):
            raise ReferenceError(f"features[{i}].name: expected a string")
        if name not in columns:
            skipped.append(f"{name}: not an input of this version")
            continue
        feature = _feature(spec, f"features[{i}]", columns[name])
        if feature.bins - 1 > max_bins:
            skipped.append(f"{name}: {feature.bins - 1} bins, more than DRIFT_MAX_BINS={max_bins}")
            continue
        found.append(feature)
    if len(found) > max_features:
        ranked = sorted(found, key=lambda f: -f.importance)
        kept = {f.name for f in ranked[:max_features]}
        skipped += [
            f"{f.name}: beyond DRIFT_MAX_FEATURES={max_features} (less important)"
            for f in found
            if f.name not in kept
        ]
        found = [f for f in found if f.name in kept]
    return DriftReference(
        tuple(found), _prediction(document.get("prediction")), window_rows, tuple(skipped)
    )


@dataclass
class VersionDrift:
    """What a loaded version brings for drift monitoring: its reference document, or why it
    has none. The monitor builds the counts from it once, with its own limits."""

    document: Any = None
    note: str = ""
    counts: DriftCounts | None = None
    prepared: bool = False


def read_version_drift(folder: Path, reference_file: str | None) -> VersionDrift:
    """The reference file of a downloaded version, if it has one; never raises."""
    if reference_file is None:
        return VersionDrift(note=NO_REFERENCE)
    try:
        document = json.loads((folder / reference_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return VersionDrift(note=f"cannot read the drift reference {reference_file}: {exc}")
    return VersionDrift(document=document)


class DriftCounts:
    """Rows per bin and per predicted class of one served version since it was loaded."""

    def __init__(self, reference: DriftReference, schema: InputSchema) -> None:
        self.reference = reference
        self.rows = 0
        starts, total = [], 0
        for feature in reference.features:
            starts.append(total)
            total += feature.bins
        self.size = total
        numeric = [
            (f, s) for f, s in zip(reference.features, starts, strict=True) if f.kind == "numeric"
        ]
        # (column, edges, first slot, missing slot) for the Python path ...
        self._numeric = [(f.column, list(f.edges), s, s + f.missing) for f, s in numeric]
        # ... and the same as arrays for the numpy path. With +inf appended, searchsorted puts
        # +inf in the last value bin and NaN (which numpy orders after +inf) in the missing one.
        self._numeric_columns = np.array([f.column for f, _ in numeric], dtype=np.intp)
        self._numeric_edges = [np.array([*f.edges, math.inf]) for f, _ in numeric]
        self._numeric_starts = np.array([s for _, s in numeric], dtype=np.intp)[:, None]
        self._others = [
            (f.column, f.values, f.buckets, s, s + f.missing)
            for f, s in zip(reference.features, starts, strict=True)
            if f.kind != "numeric"
        ]
        # Every column numeric: the rows convert to one float matrix. All of them monitored, in
        # order: no column selection either.
        self._rows_are_numeric = schema.all_numeric
        self._width = len(schema.columns)
        self._all_columns = self._numeric_columns.tolist() == list(range(self._width))
        self._small = [0] * total
        self._large = np.zeros(total, dtype=np.int64)
        prediction = reference.prediction
        self._class_index = {c: i for i, c in enumerate(prediction.classes)} if prediction else {}
        self._class_slots: dict[Any, int] = {}
        self.class_counts = [0] * len(self._class_index)

    def observe(self, rows: list[list[Any]], labels: list[Any]) -> None:
        self.rows += len(rows)
        if self._numeric:
            if len(rows) <= SMALL_REQUEST_ROWS:
                self._count_numeric_small(rows)
            else:
                self._count_numeric_large(rows)
        if self._others:
            self._count_others(rows)
        if self.class_counts:
            self._count_classes(labels)

    def _count_numeric_small(self, rows: list[list[Any]]) -> None:
        counts = self._small
        for column, edges, start, missing in self._numeric:
            for row in rows:
                value = row[column]
                # value != value: NaN. bisect_left counts the edges below the value, as
                # training's searchsorted(side="left") does.
                if value is None or value != value:
                    counts[missing] += 1
                else:
                    counts[start + bisect_left(edges, value)] += 1

    def _count_numeric_large(self, rows: list[list[Any]]) -> None:
        if self._rows_are_numeric:
            try:
                # About twice as fast as np.array on a list of lists.
                flat = np.fromiter(
                    chain.from_iterable(rows), dtype=np.float64, count=len(rows) * self._width
                )
            except TypeError:  # None in an optional column; np.array makes it NaN
                flat = np.array(rows, dtype=np.float64)
            matrix = flat.reshape(len(rows), self._width)
            if not self._all_columns:
                matrix = matrix[:, self._numeric_columns]
            columns = np.ascontiguousarray(matrix.T)
        else:
            columns = np.array(
                [[row[c] for row in rows] for c in self._numeric_columns.tolist()],
                dtype=np.float64,
            )
        slots = np.empty(columns.shape, dtype=np.intp)
        for i, edges in enumerate(self._numeric_edges):
            slots[i] = np.searchsorted(edges, columns[i], side="left")
        slots += self._numeric_starts
        self._large += np.bincount(slots.ravel(), minlength=self.size)

    def _count_others(self, rows: list[list[Any]]) -> None:
        counts = self._small
        for column, values, buckets, start, missing in self._others:
            other = start + len(values)
            for row in rows:
                value = row[column]
                if value is None:
                    counts[missing] += 1
                elif buckets:
                    counts[start + text_bucket(value, buckets)] += 1
                else:
                    found = values.get(category_key(value))
                    counts[other if found is None else start + found] += 1

    def _count_classes(self, labels: list[Any]) -> None:
        counts, slots = self.class_counts, self._class_slots
        tallied = ((label, 1) for label in labels)
        if len(labels) > SMALL_REQUEST_ROWS:
            tallied = Counter(labels).items()  # counted in C
        for label, number in tallied:
            slot = slots.get(label)
            if slot is None:
                slot = self._class_index.get(category_key(label), -1)
                if len(slots) < 4 * len(counts):  # labels are the model's classes; bounded anyway
                    slots[label] = slot
            if slot >= 0:
                counts[slot] += number

    def bin_counts(self) -> list[int]:
        return (np.asarray(self._small, dtype=np.int64) + self._large).tolist()
