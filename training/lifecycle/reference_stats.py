"""Reference statistics of a model version's training inputs and predictions: what drift
monitoring in the serving path compares live traffic with.

For every monitored feature the training rows are put into a few bins, and the share of rows
per bin is recorded with the bins themselves:

- a numeric column gets fixed edges at quantiles of the training data; bin i holds the values v
  with edges[i-1] < v <= edges[i] (numpy's `searchsorted(edges, v, side="left")`);
- a string or boolean column whose most frequent values cover most rows is categorical: one bin
  per frequent value and one for the rest ("other");
- any other string column is text: its values are hashed (CRC-32 of the UTF-8 bytes, stable
  across processes, unlike Python's hash()) into a fixed number of buckets;
- every feature has a last bin for missing values (null, NaN), so its share is the missing rate.

The service (service/inference/models/version_drift.py) applies exactly these rules to each
request row and counts rows per bin; Prometheus compares the counts with the shares recorded here.

Each feature also gets the drift score expected by chance, so that a threshold means something
at the window size the alerts use: the 99th percentile of the PSI (and Jensen-Shannon distance)
between a window of `window_rows` rows and a reference of the training set's size, both drawn
from the training data. Resampling rows with replacement puts multinomially distributed counts
in the bins, so the bootstrap draws those counts directly (numpy's `multinomial` with the
training shares): the same distribution, without materialising the rows. Both sides are drawn
because live traffic differs from the training sample by the noise of both samples; PSI scaled
by 1/(1/n + 1/m) is about chi-squared with bins-1 degrees of freedom (Yurdakul, "Statistical
properties of the population stability index", Western Michigan University, 2018), so a small
training set or a small window can only reveal a large shift, and the recorded chance level
says how large.

Everything is deterministic for a given seed: the same data and seed give the same document.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from training.settings import DriftSettings

if TYPE_CHECKING:
    import pandas as pd

FORMAT = 1
REFERENCE_FILE = "drift_reference.json"
# Shares below this count as this in every PSI and JS computation (here, in the bootstrap,
# and in the recording rules of base/monitoring/prometheusrule-drift.yaml): a bin seen in one
# distribution and never in the other would otherwise make log() infinite.
SHARE_FLOOR = 1e-4
CHANCE_QUANTILE = 0.99
# A string column is categorical when its (bins - 1) most frequent values cover at least this
# share of the rows; otherwise it is free text and hashed into buckets.
CATEGORICAL_COVERAGE = 0.5
# Longest category value kept in a bin's label (Prometheus label values stay short).
MAX_LABEL_CHARS = 40
MISSING = "missing"
OTHER = "other"


@dataclass(frozen=True)
class FeatureBins:
    """How one column's values map to bins: the rule the service applies too."""

    name: str
    kind: str  # numeric | categorical | hashed
    edges: tuple[float, ...] = ()
    values: tuple[str, ...] = ()
    buckets: int = 0

    @property
    def value_bins(self) -> int:
        """Bins for present values; the missing bin comes after them."""
        if self.kind == "numeric":
            return len(self.edges) + 1
        if self.kind == "categorical":
            return len(self.values) + 1  # the last is "other"
        return self.buckets

    @property
    def bins(self) -> int:
        return self.value_bins + 1

    def assign(self, column: Sequence[Any] | np.ndarray) -> np.ndarray:
        """The bin of every value; missing values get the last bin."""
        missing = self.value_bins
        if self.kind == "numeric":
            values = np.asarray(column, dtype=np.float64)
            found = np.searchsorted(np.asarray(self.edges, dtype=np.float64), values, side="left")
            return np.where(np.isnan(values), missing, found).astype(np.int64)
        if self.kind == "categorical":
            index = {value: i for i, value in enumerate(self.values)}
            other = len(self.values)
            return np.array(
                [missing if is_missing(v) else index.get(category_key(v), other) for v in column],
                dtype=np.int64,
            )
        return np.array(
            [missing if is_missing(v) else text_bucket(v, self.buckets) for v in column],
            dtype=np.int64,
        )

    def ranges(self) -> list[str]:
        """A short readable label per bin, for panels: `(4.8, 5.4]`, `= red`, `other`."""
        if self.kind == "numeric":
            bounds = ["-inf", *(_number(e) for e in self.edges), "+inf"]
            labels = [f"({bounds[i]}, {bounds[i + 1]}]" for i in range(len(bounds) - 1)]
            labels[-1] = labels[-1][:-1] + ")"
        elif self.kind == "categorical":
            labels = [f"= {value[:MAX_LABEL_CHARS]}" for value in self.values] + [OTHER]
        else:
            labels = [f"hash {i}/{self.buckets}" for i in range(self.buckets)]
        return [*labels, MISSING]

    def describe(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "numeric":
            spec["edges"] = list(self.edges)
        elif self.kind == "categorical":
            spec["values"] = list(self.values)
        else:
            spec["buckets"] = self.buckets
        return spec


def _number(value: float) -> str:
    return format(value, ".4g")


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def category_key(value: Any) -> str:
    """The text a categorical value is recorded and looked up as (JSON true -> "true")."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value)


def text_bucket(value: Any, buckets: int) -> int:
    return zlib.crc32(str(value).encode("utf-8")) % buckets


def feature_bins(name: str, column: pd.Series, bins: int) -> FeatureBins:
    """Choose the binning of one training column."""
    from pandas.api import types

    present = column.dropna()
    if types.is_numeric_dtype(column) and not types.is_bool_dtype(column):
        values = present.to_numpy(dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size == 0:
            return FeatureBins(name, "numeric")
        quantiles = np.quantile(values, np.arange(1, bins) / bins)
        # Ties (discrete features) give repeated quantiles: one edge each.
        return FeatureBins(name, "numeric", edges=tuple(float(e) for e in np.unique(quantiles)))
    keys = present.map(category_key)
    counts = keys.value_counts(sort=False)
    # Most frequent first; equal counts in value order, so the choice is deterministic.
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    top = ranked[: max(bins - 1, 1)]
    covered = sum(count for _, count in top) / max(len(keys), 1)
    if types.is_bool_dtype(column) or covered >= CATEGORICAL_COVERAGE:
        return FeatureBins(name, "categorical", values=tuple(str(value) for value, _ in top))
    return FeatureBins(name, "hashed", buckets=bins)


def shares(assigned: np.ndarray, bins: int) -> np.ndarray:
    counts = np.bincount(assigned, minlength=bins).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def psi(observed: np.ndarray, reference: np.ndarray, floor: float = SHARE_FLOOR) -> np.ndarray:
    """Population stability index over the last axis, shares floored as the recording rules do."""
    a = np.maximum(observed, floor)
    e = np.maximum(reference, floor)
    return ((a - e) * np.log(a / e)).sum(axis=-1)


def js_distance(
    observed: np.ndarray, reference: np.ndarray, floor: float = SHARE_FLOOR
) -> np.ndarray:
    """Jensen-Shannon distance (base 2, so within 0..1) over the last axis, floored as above."""
    a = np.maximum(observed, floor)
    e = np.maximum(reference, floor)
    total = a + e
    divergence = (a * np.log2(2 * a / total) + e * np.log2(2 * e / total)).sum(axis=-1) / 2
    return np.sqrt(np.maximum(divergence, 0.0))


def chance_levels(
    reference: np.ndarray, rows: int, settings: DriftSettings, rng: np.random.Generator
) -> tuple[float, float]:
    """(PSI, JS distance) that a window of `window_rows` rows exceeds with 1% probability
    against a reference of `rows` rows when both come from the training distribution."""
    pvals = reference / reference.sum()
    samples = settings.bootstrap_samples
    resampled_reference = rng.multinomial(rows, pvals, size=samples) / rows
    window = rng.multinomial(settings.window_rows, pvals, size=samples) / settings.window_rows
    return (
        float(np.quantile(psi(window, resampled_reference), CHANCE_QUANTILE)),
        float(np.quantile(js_distance(window, resampled_reference), CHANCE_QUANTILE)),
    )


def importances(pipeline: Any, x_test: pd.DataFrame, y_test: pd.Series, seed: int) -> dict:
    """Permutation importance of each input column on held-out rows (any estimator), negatives
    as zero: how much the score drops when that column's values are shuffled."""
    from sklearn.inspection import permutation_importance

    # Three shuffles per column: the weights only rank features, and each shuffle costs one
    # prediction over the held-out rows per column (seconds for 30 columns of boosted trees).
    found = permutation_importance(pipeline, x_test, y_test, n_repeats=3, random_state=seed)
    return {
        str(name): max(float(value), 0.0)
        for name, value in zip(x_test.columns, found.importances_mean, strict=True)
    }


def _normalised(weights: Mapping[str, float], names: Sequence[str]) -> dict[str, float]:
    total = sum(weights.get(name, 0.0) for name in names)
    if total <= 0:  # nothing matters to the model (a constant predictor): weigh all alike
        return dict.fromkeys(names, 1.0 / len(names)) if names else {}
    return {name: weights.get(name, 0.0) / total for name in names}


def monitored_features(
    columns: Sequence[str], importance: Mapping[str, float], limit: int
) -> list[str]:
    """The `limit` most important columns, in the columns' own order."""
    ranked = sorted(columns, key=lambda name: (-importance.get(name, 0.0), columns.index(name)))
    chosen = set(ranked[:limit])
    return [name for name in columns if name in chosen]


def build(
    x_train: pd.DataFrame,
    predicted: Sequence[Any] | np.ndarray,
    classes: Sequence[Any] | None,
    importance: Mapping[str, float],
    settings: DriftSettings,
    seed: int,
) -> dict[str, Any]:
    """The reference document of one model version (the JSON the service reads)."""
    rng = np.random.default_rng(seed)
    rows = len(x_train)
    names = monitored_features([str(c) for c in x_train.columns], importance, settings.max_features)
    weights = _normalised(importance, names)
    features = []
    for name in names:
        column = x_train[name]
        binning = feature_bins(name, column, settings.bins)
        # Missing values as None whatever the dtype (pandas' NA, NaT, NaN).
        values = column.astype(object).where(column.notna(), None).tolist()
        reference = shares(binning.assign(values), binning.bins)
        chance_psi, chance_js = chance_levels(reference, rows, settings, rng)
        features.append(
            {
                **binning.describe(),
                "ranges": binning.ranges(),
                "shares": reference.tolist(),
                "missing_rate": float(reference[-1]),
                "importance": weights[name],
                "chance_psi": chance_psi,
                "chance_js_distance": chance_js,
            }
        )
    prediction = None
    if classes is not None:
        keys = [category_key(c) for c in classes]
        index = {key: i for i, key in enumerate(keys)}
        found = np.array([index[category_key(p)] for p in predicted], dtype=np.int64)
        predicted_shares = shares(found, len(keys))
        chance_psi, chance_js = chance_levels(predicted_shares, rows, settings, rng)
        prediction = {
            "classes": keys,
            "shares": predicted_shares.tolist(),
            "chance_psi": chance_psi,
            "chance_js_distance": chance_js,
        }
    return {
        "format": FORMAT,
        "rows": rows,
        "seed": seed,
        "bins": settings.bins,
        "window_rows": settings.window_rows,
        "bootstrap_samples": settings.bootstrap_samples,
        "chance_quantile": CHANCE_QUANTILE,
        "share_floor": SHARE_FLOOR,
        "features": features,
        "not_monitored": [str(c) for c in x_train.columns if str(c) not in names],
        "prediction": prediction,
    }


def to_json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, indent=1, sort_keys=True, allow_nan=False).encode("utf-8")


def metadata(document: Mapping[str, Any]) -> dict[str, Any]:
    """What MLmodel's `metadata.drift_reference` says: where the file is, and its format."""
    return {
        "file": REFERENCE_FILE,
        "format": document["format"],
        "features": len(document["features"]),
        "window_rows": document["window_rows"],
    }


def summary(document: Mapping[str, Any]) -> str:
    """One line for the version tag `drift_reference`."""
    features = document["features"]
    bins = max((len(f["shares"]) for f in features), default=0)
    predicted = "and predicted classes" if document.get("prediction") else "no predicted classes"
    return (
        f"{len(features)} features (up to {bins} bins each) {predicted}; chance levels at "
        f"{document['window_rows']} rows from {document['rows']} training rows"
    )
