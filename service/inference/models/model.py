"""One loaded model version, whatever runtime serves it: what every runtime shares.

A runtime (sklearn_model, onnx_model) knows how to call its model; ServedModel holds what the
service needs besides: the version's identity, its input schema and example, its classes,
and the load-time self-check every version passes before it is served.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from inference.models.schema import InputSchema
from inference.models.version_drift import VersionDrift

# A model call this cheap runs on the event loop itself: handing it to a thread (tens of
# microseconds each way, measured here) would cost more than the call.
INLINE_CALL_SECONDS = 0.0002


class ModelCheckError(RuntimeError):
    """A version failed its self-check on its own input example; it is never served."""


@dataclass
class Prediction:
    labels: list[Any]
    probabilities: list[list[float]] | None


@dataclass
class ServedModel(ABC):
    name: str
    version: str
    alias: str | None
    schema: InputSchema
    input_example: list[list[Any]]
    run_id: str | None = None
    loaded_at: float = field(default_factory=time.time)
    classes: list[Any] | None = None
    # Measured by prepare(): cheap calls are made inline instead of on the model thread.
    call_seconds: float = 0.0
    # The version's drift reference, attached by the loader (inference/models/version_drift.py).
    drift: VersionDrift | None = None
    # What loading it added to the process's resident memory (models/memory.py); None where
    # it cannot be measured.
    memory_bytes: int | None = None

    runtime = "unknown"
    # The float datatype the runtime feeds the model its numbers as (number_ranges.FLOAT_MAX).
    model_float = "FP64"

    @property
    def has_proba(self) -> bool:
        return self.classes is not None

    @property
    def inline(self) -> bool:
        return 0 < self.call_seconds < INLINE_CALL_SECONDS

    @abstractmethod
    def predict(self, rows: list[list[Any]]) -> Prediction: ...

    @abstractmethod
    def _check(self) -> None:
        """The runtime's own self-check on the input example; raise ModelCheckError."""

    def prepare(self) -> None:
        """Self-check on the input example, then what the service needs to know: the range of
        numbers the model takes, whether NaN and inf are scorable, how long a one-row call takes."""
        if not self.input_example:
            raise ModelCheckError(f"{self.name} v{self.version} has no input example")
        self._check()
        self.schema.feed_floats_as(self.model_float)
        self.schema.allow_nan = self._accepts(float("nan"))
        self.schema.allow_inf = self._accepts(float("inf"))
        self.call_seconds = self._time_one_row()

    def _accepts(self, special: float) -> bool:
        """Whether the model scores a row holding `special` into finite outputs."""
        numeric = [i for i, c in enumerate(self.schema.columns) if c.type in ("double", "float")]
        if not numeric:
            return False
        row = list(self.input_example[0])
        row[numeric[0]] = special
        try:
            result = self.predict([row])
        except Exception:
            return False
        values = [p for line in result.probabilities or [] for p in line]
        return all(isinstance(v, int | str) or math.isfinite(v) for v in values)

    def _time_one_row(self) -> float:
        row = self.input_example[:1]
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            self.predict(row)
            samples.append(time.perf_counter() - started)
        return sorted(samples)[len(samples) // 2]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "run_id": self.run_id,
            "runtime": self.runtime,
            "loaded_at": self.loaded_at,
            "classes": self.classes,
            "inputs": [
                {"name": c.name, "type": c.type, "required": c.required}
                for c in self.schema.columns
            ],
            "input_example": self.input_example[:5],
            "memory_bytes": self.memory_bytes,
        }
