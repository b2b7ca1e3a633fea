"""The data sample a team passes with its model: read against the model's signature, checked,
and stored with the registered version as its evaluation sample.

The sample gives a registered version what the platform's own training computes from its
held-out split: the ONNX equivalence gate's rows, the drift reference, the version's scores,
and the rows the quality gate compares two versions on (then and at every later `promote`).
Its columns are the signature's inputs plus the target; rows whose target is empty count for
the drift reference only. CSV, read with the signature's types: a `string` column stays text
even when its values look like numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.lifecycle.reference_stats import category_key, is_missing
from training.lifecycle.team_contract import InputColumn

if TYPE_CHECKING:
    import pandas as pd

# Fewer labelled rows than this make the gate's accuracy move by more than its tolerance with
# one row (1/30 > 0.01 already), and the drift reference's chance levels meaningless.
MIN_LABELLED_ROWS = 30
# The file the sample is stored as in the version's folder (named by MLmodel's
# `metadata.evaluation_sample.file`).
SAMPLE_FILE = "evaluation_sample.csv"
_NUMERIC = {"double", "float"}
_INTEGER = {"long", "integer"}
SHOWN_VALUES = 5


@dataclass(frozen=True)
class Sample:
    """Every row's features in signature order, and the target (missing where unlabelled)."""

    features: pd.DataFrame
    target: pd.Series
    name: str  # the file it came from, or "the sample"
    sha256: str

    @property
    def labelled(self) -> pd.Series:
        return self.target.notna()

    @property
    def x(self) -> pd.DataFrame:
        """The labelled rows' features: what the gate and the scores use."""
        return self.features[self.labelled]

    @property
    def y(self) -> pd.Series:
        """The labelled rows' targets, typed as the classes are (int64 for integer classes):
        scikit-learn's metrics refuse numbers in an object column."""
        import pandas as pd

        labelled = self.target[self.labelled]
        return pd.Series(labelled.tolist(), index=labelled.index, name=self.target.name)

    def stored(self) -> bytes:
        """The labelled rows as CSV: the evaluation sample kept with the version."""
        frame = self.x.copy()
        frame[self.target.name] = self.y
        return frame.to_csv(index=False).encode("utf-8")


def read(
    source: Path | pd.DataFrame, columns: Sequence[InputColumn]
) -> tuple[pd.DataFrame | None, str, list[str]]:
    """The raw table (None when unreadable), the name messages call it, and reading problems.
    `string` columns are read as text."""
    import pandas as pd

    if not isinstance(source, Path):
        return source.copy(), "the sample", []
    if source.suffix.lower() != ".csv":
        return None, str(source), [f"the sample {source} must be a .csv file"]
    text_columns = {c.name: str for c in columns if c.type == "string"}
    try:
        frame = pd.read_csv(source, dtype=text_columns)
    except OSError as error:
        return None, str(source), [f"cannot read the sample {source}: {error.strerror or error}"]
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return None, str(source), [f"the sample {source} is not a readable CSV: {first}"]
    return frame, source.name, []


def digest_of(source: Path | pd.DataFrame) -> str:
    import pandas as pd

    if isinstance(source, Path):
        return hashlib.sha256(source.read_bytes()).hexdigest()
    return hashlib.sha256(
        pd.util.hash_pandas_object(source, index=False).to_numpy().tobytes()
    ).hexdigest()


def check(
    frame: pd.DataFrame, name: str, columns: Sequence[InputColumn], target: str
) -> tuple[pd.DataFrame | None, pd.Series | None, list[str]]:
    """(features in signature order with the signature's types, target, problems)."""
    present = [str(c) for c in frame.columns]
    frame = frame.set_axis(present, axis=1)
    problems: list[str] = []
    missing = [c.name for c in columns if c.name not in present]
    if missing:
        problems.append(f"{name} lacks signature columns {', '.join(missing)}")
    known = {c.name for c in columns} | {target}
    extra = [c for c in present if c not in known]
    if extra:
        problems.append(
            f"{name} has columns the signature does not name: {', '.join(extra)} (drop them; "
            f"the target column is {target!r})"
        )
    if target not in present:
        problems.append(
            f"{name} has no target column {target!r}: the quality gate scores the model on the "
            "sample's labelled rows"
        )
    converted = {}
    for column in columns:
        if column.name not in present:
            continue
        values, problem = _typed(frame[column.name], column, name)
        if problem:
            problems.append(problem)
        converted[column.name] = values
    if problems:
        return None, None, problems
    import pandas as pd

    features = pd.DataFrame(converted, index=frame.index)[[c.name for c in columns]]
    labels = frame[target]
    labelled = int(labels.notna().sum())
    if labelled < MIN_LABELLED_ROWS:
        problems.append(
            f"{name} has {labelled} labelled rows (target {target!r} set), at least "
            f"{MIN_LABELLED_ROWS} are needed for the quality gate and the drift reference"
        )
    return features, labels, problems


def _typed(values: pd.Series, column: InputColumn, name: str) -> tuple[pd.Series, str | None]:
    """The column converted to what the signature says, or the first value that is not."""
    import pandas as pd
    from pandas.api import types

    where = f"{name}: column {column.name} ({column.type})"
    if column.type in _NUMERIC | _INTEGER:
        if types.is_bool_dtype(values):
            return values, f"{where} holds true/false values, not numbers"
        numbers = pd.to_numeric(values, errors="coerce")
        bad = values[numbers.isna() & values.notna()]
        if len(bad):
            return values, f"{where} holds {_shown(bad)}, not numbers"
        if column.type in _INTEGER:
            if numbers.isna().any():
                return values, f"{where} has empty values, which an integer column cannot hold"
            if not (numbers == numbers.round()).all():
                return values, f"{where} holds {_shown(values[numbers != numbers.round()])}"
            return numbers.astype("int64" if column.type == "long" else "int32"), None
        return numbers.astype("float64"), None
    if column.type == "boolean":
        if not types.is_bool_dtype(values):
            return values, f"{where} holds {_shown(values)}, not true/false"
        return values, None
    # string: text as read (the CSV reader keeps it text); a DataFrame must hold text too.
    bad = values[[not (is_missing(v) or isinstance(v, str)) for v in values]]
    if len(bad):
        return values, f"{where} holds {_shown(bad)}, not text"
    return values.astype(object).where(values.notna(), None), None


def _shown(values: pd.Series) -> str:
    """A few of the offending values with their CSV line (header is line 1)."""
    shown = [f"{v!r} (line {int(i) + 2})" for i, v in list(values.items())[:SHOWN_VALUES]]
    more = f" and {len(values) - SHOWN_VALUES} more" if len(values) > SHOWN_VALUES else ""
    return ", ".join(shown) + more


def labels_as_classes(target: pd.Series, classes: Sequence[Any]) -> tuple[pd.Series, list[str]]:
    """The target with each label as the model's own class value ("1" and 1 are the same
    class, compared as text as the drift reference compares them); labels the model does
    not know are a problem."""
    by_key = {category_key(c): c for c in classes}
    unknown = sorted({category_key(v) for v in target.dropna() if category_key(v) not in by_key})
    if unknown:
        known = ", ".join(sorted(by_key))
        return target, [
            f"the target holds labels the model does not predict: {', '.join(unknown[:10])} "
            f"(its classes: {known})"
        ]
    mapped = target.map(lambda v: None if is_missing(v) else by_key[category_key(v)])
    return mapped.astype(object).where(target.notna(), None).rename(target.name), []
