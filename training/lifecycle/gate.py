"""The quality gate's rules: signature compatibility and metric tolerance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Both must not drop by more than the tolerance; log loss is reported but not gated because
# it is unbounded and over-penalises confident models on tiny held-out sets.
GATED_METRICS = ("accuracy", "f1_macro")


@dataclass(frozen=True)
class SignatureDiff:
    added: dict[str, str] = field(default_factory=dict)
    removed: dict[str, str] = field(default_factory=dict)
    retyped: dict[str, tuple[str, str]] = field(default_factory=dict)
    outputs: tuple[str, str] | None = None

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.retyped or self.outputs)

    def describe(self) -> str:
        parts = []
        if self.added:
            parts.append("added " + ", ".join(f"{k} ({v})" for k, v in self.added.items()))
        if self.removed:
            parts.append("removed " + ", ".join(f"{k} ({v})" for k, v in self.removed.items()))
        if self.retyped:
            parts.append(
                "retyped " + ", ".join(f"{k} ({a} -> {b})" for k, (a, b) in self.retyped.items())
            )
        if self.outputs:
            parts.append(f"outputs {self.outputs[0]} -> {self.outputs[1]}")
        return "; ".join(parts)


def _columns(schema: Any) -> dict[str, str]:
    if schema is None:
        return {}
    columns = {}
    for index, spec in enumerate(schema.to_dict()):
        name = spec.get("name") or f"#{index}"
        columns[name] = str(spec.get("type") or spec.get("tensor-spec", ""))
    return columns


def signature_diff(current: Any, candidate: Any) -> SignatureDiff:
    """What a client of the current version would see change (inputs by column, outputs whole)."""
    before = _columns(getattr(current, "inputs", None))
    after = _columns(getattr(candidate, "inputs", None))
    outputs_before = str(_columns(getattr(current, "outputs", None)))
    outputs_after = str(_columns(getattr(candidate, "outputs", None)))
    return SignatureDiff(
        added={k: v for k, v in after.items() if k not in before},
        removed={k: v for k, v in before.items() if k not in after},
        retyped={
            k: (before[k], after[k]) for k in before.keys() & after.keys() if before[k] != after[k]
        },
        outputs=(outputs_before, outputs_after) if outputs_before != outputs_after else None,
    )


def metric_failures(
    candidate: dict[str, float], current: dict[str, float], tolerance: float
) -> list[str]:
    """One message per gated metric on which the candidate is worse by more than the tolerance."""
    failures = []
    for metric in GATED_METRICS:
        drop = current[metric] - candidate[metric]
        if drop > tolerance:
            failures.append(
                f"{metric} {candidate[metric]:.4f} is {drop:.4f} below the current "
                f"{current[metric]:.4f} (tolerance {tolerance})"
            )
    return failures
