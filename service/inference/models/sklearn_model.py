"""The scikit-learn runtime: the version's pickled estimator, called the fastest safe way.

How to feed the estimator is decided once, at load, by trying the input example: a plain
float array for a numeric schema whose columns the estimator was fitted on in the same order
(no per-call DataFrame cost, and pandas is never imported), else a DataFrame, or an array
when it gives the same answers; one probability call instead of predict + predict_proba when
argmax agrees with predict.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inference.models.model import ModelCheckError, Prediction, ServedModel

# Fitted on a DataFrame, scikit-learn warns on every array call; the array path is only
# chosen after checking it gives identical answers, so the warning carries no information.
warnings.filterwarnings("ignore", message="X does not have valid feature names")


@dataclass
class SklearnModel(ServedModel):
    estimator: Any = None
    _to_input: Callable[[list[list[Any]]], Any] | None = field(default=None, repr=False)
    _proba_only: bool = field(default=False, repr=False)

    runtime = "sklearn"

    # -- input building -----------------------------------------------------------------------

    def _as_frame(self, rows: list[list[Any]]) -> Any:
        import pandas as pd

        return pd.DataFrame(rows, columns=self.schema.names)

    def _as_array(self, rows: list[list[Any]]) -> Any:
        return np.array(rows, dtype=np.float64)

    def to_input(self, rows: list[list[Any]]) -> Any:
        assert self._to_input is not None, "prepare() must run before predict()"
        return self._to_input(rows)

    # -- calling ------------------------------------------------------------------------------

    def predict(self, rows: list[list[Any]]) -> Prediction:
        features = self.to_input(rows)
        if self.classes is None:
            return Prediction(np.asarray(self.estimator.predict(features)).tolist(), None)
        proba = np.asarray(self.estimator.predict_proba(features))
        if self._proba_only:
            labels = np.asarray(self.classes, dtype=object)[proba.argmax(axis=1)].tolist()
        else:
            labels = np.asarray(self.estimator.predict(features)).tolist()
        return Prediction(labels, proba.tolist())

    # -- load-time self-check ------------------------------------------------------------------

    def _check(self) -> None:
        """Run the input example and pick the fastest input path that agrees."""
        example = self.input_example
        reference = self._array_reference() if self._array_is_equivalent() else None
        if reference is not None:
            self._to_input = self._as_array
        else:
            self._to_input = self._as_frame
            try:
                reference = self.estimator.predict(self._as_frame(example))
            except Exception as exc:
                raise ModelCheckError(f"predict failed on the input example: {exc}") from exc
        if len(reference) != len(example):
            raise ModelCheckError(
                f"predict returned {len(reference)} results for {len(example)} example rows"
            )
        if hasattr(self.estimator, "predict_proba"):
            try:
                proba = np.asarray(self.estimator.predict_proba(self.to_input(example)))
                self.classes = np.asarray(self.estimator.classes_).tolist()
            except Exception:
                self.classes = None  # e.g. a pipeline whose last step has no probabilities
            else:
                argmax = np.asarray(self.classes, dtype=object)[proba.argmax(axis=1)]
                self._proba_only = bool(np.array_equal(argmax, np.asarray(reference, dtype=object)))
        if (
            self._to_input == self._as_frame
            and self.schema.all_numeric
            and self._agrees(self._as_array, reference)
        ):
            self._to_input = self._as_array

    def _accepts(self, special: float) -> bool:
        # scikit-learn's own validation decides: an estimator that takes NaN scores it.
        numeric = [i for i, c in enumerate(self.schema.columns) if c.type in ("double", "float")]
        if not numeric:
            return False
        row = list(self.input_example[0])
        row[numeric[0]] = special
        try:
            self.estimator.predict(self.to_input([row]))
        except Exception:
            return False
        return True

    def _array_is_equivalent(self) -> bool:
        """A float array is what scikit-learn makes of a numeric DataFrame anyway, once it has
        checked the column names: the same answers by construction, and no pandas needed."""
        if not self.schema.all_numeric:
            return False
        fitted_names = getattr(self.estimator, "feature_names_in_", None)
        return fitted_names is None or [str(n) for n in fitted_names] == self.schema.names

    def _array_reference(self) -> Any:
        """predict() on the example as an array, or None to fall back to a DataFrame."""
        try:
            return self.estimator.predict(self._as_array(self.input_example))
        except Exception:
            return None

    def _agrees(self, to_input: Callable[[list[list[Any]]], Any], reference: Any) -> bool:
        try:
            candidate = self.estimator.predict(to_input(self.input_example))
        except Exception:
            return False
        return bool(np.array_equal(np.asarray(candidate), np.asarray(reference)))
