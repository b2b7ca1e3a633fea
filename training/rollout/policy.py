"""A tenant's rollout policy: overlays/<cluster>/tenants/<tenant>/rollout.yaml.

Parsed strictly: an unknown field, a wrong type or a value out of range is a PolicyError
naming the field and what was expected. The same parser reads the file from git (the CLI,
`python -m gitops validate`) and the snapshot `rollout start` records on the candidate
version (the judge, `rollout status`), so both always agree on what a policy means.

One schema, kept in two files with the same bytes, because two images need it and each is
built from one folder: service/inference/contracts/rollout_policy.py, which the service and
`python -m gitops validate` import (the service's package is the bottom of the repository's
import graph, so importing it adds no edge back), and training/rollout/policy.py, which the
judge and the training commands import (the judge's image holds training/rollout/ alone).
Edit one, copy it over the other: tests/training/rollout/test_policy.py fails while they
differ. Standard library only; load_file imports YAML when it is called.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

API_VERSION = "ml-platform.example.com/v1alpha1"
KIND = "RolloutPolicy"
FILE_NAME = "rollout.yaml"
DEFAULT_ROUTING_HEADER = "x-routing-key"
MODES = ("shadow", "canary")

# Go-style durations as Kubernetes writes them: 30s, 10m, 1h30m.
_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
# An HTTP header field name (RFC 9110 token), kept to what proxies pass unchanged.
HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
# MLflow's alias rule ([\w-]), without the version-like names it reserves.
_ALIAS = re.compile(r"^[A-Za-z_][\w-]{0,200}$")


class PolicyError(ValueError):
    """The policy is malformed; the message names the field and what was expected."""


@dataclass(frozen=True)
class Step:
    mode: str  # "shadow" or "canary"
    weight: int  # percent of requests the candidate answers; 0 in shadow
    duration_seconds: int

    def describe(self) -> str:
        share = "shadow" if self.mode == "shadow" else f"{self.weight}%"
        return f"{share} for {format_duration(self.duration_seconds)}"


@dataclass(frozen=True)
class Gates:
    # errorRatio: candidate error ratio minus stable error ratio
    max_error_increase: float = 0.01
    # latency: candidate quantile / stable quantile, ignored below tolerance_seconds
    latency_quantile: float = 0.95
    max_latency_ratio: float = 1.5
    latency_tolerance_seconds: float = 0.005
    # agreement: share of rows whose label the candidate and stable agree on (shadow steps)
    min_agreement: float = 0.95
    # classShift: total variation distance between the predicted class distributions
    max_class_shift: float = 0.1


@dataclass(frozen=True)
class Policy:
    stable_alias: str
    steps: tuple[Step, ...]
    deadline_seconds: int
    min_requests: int = 100
    confidence: float = 0.95
    auto_promote: bool = False
    routing_header: str = DEFAULT_ROUTING_HEADER
    gates: Gates = field(default_factory=Gates)

    @property
    def candidate_alias(self) -> str:
        return candidate_alias(self.stable_alias)

    @property
    def previous_alias(self) -> str:
        return previous_alias(self.stable_alias)

    def to_document(self) -> dict[str, Any]:
        """The canonical form (every field, defaults filled in): what the snapshot records."""
        g = self.gates
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "stableAlias": self.stable_alias,
            "routingHeader": self.routing_header,
            "steps": [
                {"mode": s.mode, "duration": format_duration(s.duration_seconds)}
                if s.mode == "shadow"
                else {
                    "mode": s.mode,
                    "weight": s.weight,
                    "duration": format_duration(s.duration_seconds),
                }
                for s in self.steps
            ],
            "minRequests": self.min_requests,
            "confidence": self.confidence,
            "autoPromote": self.auto_promote,
            "deadline": format_duration(self.deadline_seconds),
            "gates": {
                "errorRatio": {"maxIncrease": g.max_error_increase},
                "latency": {
                    "quantile": g.latency_quantile,
                    "maxRatio": g.max_latency_ratio,
                    "toleranceSeconds": g.latency_tolerance_seconds,
                },
                "agreement": {"min": g.min_agreement},
                "classShift": {"max": g.max_class_shift},
            },
        }


def candidate_alias(stable_alias: str) -> str:
    """Where a rollout puts the version under test, beside the stable alias."""
    return f"{stable_alias}-candidate"


def previous_alias(stable_alias: str) -> str:
    """Where a rollout's promotion keeps the version it replaced: a rollback is one write."""
    return f"{stable_alias}-previous"


def parse_duration(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, str):
        raise PolicyError(f"{where}: got {value!r}, expected a duration such as 30s, 10m or 1h")
    match = _DURATION.match(value.strip())
    if not value.strip() or match is None:
        raise PolicyError(f"{where}: got {value!r}, expected a duration such as 30s, 10m or 1h")
    seconds = int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + int(match["s"] or 0)
    if seconds <= 0:
        raise PolicyError(f"{where}: got {value!r}, expected a duration longer than 0s")
    return seconds


def format_duration(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")


class _Fields:
    """Reads one mapping, remembering which keys were used so leftovers are errors."""

    def __init__(self, value: Any, where: str) -> None:
        if not isinstance(value, Mapping):
            raise PolicyError(f"{where or 'policy'}: got {_kind(value)}, expected a mapping")
        self.value = value
        self.where = where
        self.known: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        self.known.add(key)
        if key not in self.value or self.value[key] is None:
            if required:
                raise PolicyError(f"{self.path(key)}: missing, it is required")
            return default
        return self.value[key]

    def number(
        self,
        key: str,
        default: float,
        *,
        low: float,
        high: float | None = None,
        low_open: bool = False,
        high_open: bool = False,
    ) -> float:
        value = self.get(key, default)
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        expected = f"a number in {left}{low:g}, {'inf' if high is None else f'{high:g}'}{right}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PolicyError(f"{self.path(key)}: got {value!r}, expected {expected}")
        too_low = value <= low if low_open else value < low
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            raise PolicyError(f"{self.path(key)}: got {value!r}, expected {expected}")
        return float(value)

    def integer(self, key: str, default: int | None, *, low: int, high: int) -> int:
        value = self.get(key, default, required=default is None)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise PolicyError(
                f"{self.path(key)}: got {value!r}, expected an integer from {low} to {high}"
            )
        return value

    def finish(self) -> None:
        unknown = sorted(str(k) for k in self.value if k not in self.known)
        if unknown:
            listed = ", ".join(sorted(self.known))
            raise PolicyError(f"{self.path(unknown[0])}: unknown field, expected one of {listed}")


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def parse_policy(document: Any) -> Policy:
    """The policy in `document` (the YAML file's content, or a snapshot), checked strictly."""
    top = _Fields(document, "")
    api_version = top.get("apiVersion", required=True)
    if api_version != API_VERSION:
        raise PolicyError(f"apiVersion: got {api_version!r}, expected {API_VERSION!r}")
    kind = top.get("kind", required=True)
    if kind != KIND:
        raise PolicyError(f"kind: got {kind!r}, expected {KIND!r}")
    stable = top.get("stableAlias", required=True)
    if not isinstance(stable, str) or not _ALIAS.match(stable) or stable.lower() == "latest":
        raise PolicyError(
            f"stableAlias: got {stable!r}, expected the alias the tenant serves "
            "(letters, digits, _ and -; e.g. staging or production)"
        )
    header = top.get("routingHeader", DEFAULT_ROUTING_HEADER)
    if not isinstance(header, str) or not HEADER_NAME.match(header):
        raise PolicyError(
            f"routingHeader: got {header!r}, expected an HTTP header name such as x-user-id"
        )
    steps = _steps(top.get("steps", required=True))
    min_requests = top.integer("minRequests", 100, low=1, high=10_000_000)
    confidence = top.number("confidence", 0.95, low=0.5, high=1, high_open=True)
    auto_promote = top.get("autoPromote", False)
    if not isinstance(auto_promote, bool):
        raise PolicyError(f"autoPromote: got {auto_promote!r}, expected true or false")
    total = sum(step.duration_seconds for step in steps)
    raw_deadline = top.get("deadline")
    # Room for pauses: evaluations wait for traffic, and a person promotes at the end.
    deadline = 3 * total if raw_deadline is None else parse_duration(raw_deadline, "deadline")
    if deadline < total:
        raise PolicyError(
            f"deadline: got {raw_deadline!r}, expected at least the sum of the step durations "
            f"({format_duration(total)})"
        )
    gates = _gates(top.get("gates", {}))
    top.finish()
    return Policy(
        stable_alias=stable,
        steps=steps,
        deadline_seconds=deadline,
        min_requests=min_requests,
        confidence=confidence,
        auto_promote=auto_promote,
        routing_header=header.lower(),
        gates=gates,
    )


def _steps(value: Any) -> tuple[Step, ...]:
    if not isinstance(value, list) or not value:
        raise PolicyError(
            f"steps: got {_kind(value)}, expected a non-empty list of "
            "{mode: shadow|canary, weight, duration}"
        )
    steps: list[Step] = []
    for index, raw in enumerate(value):
        where = f"steps[{index}]"
        fields = _Fields(raw, where)
        mode = fields.get("mode", required=True)
        if mode not in MODES:
            raise PolicyError(f"{where}.mode: got {mode!r}, expected one of {', '.join(MODES)}")
        duration = parse_duration(fields.get("duration", required=True), f"{where}.duration")
        if mode == "shadow":
            if "weight" in fields.value:
                raise PolicyError(
                    f"{where}.weight: a shadow step sends no traffic to the candidate, "
                    "expected no weight"
                )
            if steps and steps[-1].mode == "canary":
                raise PolicyError(
                    f"{where}.mode: got 'shadow' after a canary step, expected shadow steps first"
                )
            weight = 0
        else:
            # 100 % is the promotion itself (the stable alias moves), not a step.
            weight = fields.integer("weight", None, low=1, high=99)
            if steps and steps[-1].mode == "canary" and weight <= steps[-1].weight:
                raise PolicyError(
                    f"{where}.weight: got {weight}, expected more than the previous step's "
                    f"{steps[-1].weight}"
                )
        fields.finish()
        steps.append(Step(mode, weight, duration))
    return tuple(steps)


def _gates(value: Any) -> Gates:
    gates = _Fields(value, "gates")
    errors = _Fields(gates.get("errorRatio", {}), "gates.errorRatio")
    max_error_increase = errors.number("maxIncrease", 0.01, low=0, high=1)
    errors.finish()
    latency = _Fields(gates.get("latency", {}), "gates.latency")
    quantile = latency.number("quantile", 0.95, low=0.5, high=1, high_open=True)
    max_ratio = latency.number("maxRatio", 1.5, low=1, low_open=True)
    tolerance = latency.number("toleranceSeconds", 0.005, low=0)
    latency.finish()
    agreement = _Fields(gates.get("agreement", {}), "gates.agreement")
    min_agreement = agreement.number("min", 0.95, low=0, high=1, high_open=True)
    agreement.finish()
    shift = _Fields(gates.get("classShift", {}), "gates.classShift")
    max_shift = shift.number("max", 0.1, low=0, high=1, low_open=True)
    shift.finish()
    gates.finish()
    return Gates(
        max_error_increase=max_error_increase,
        latency_quantile=quantile,
        max_latency_ratio=max_ratio,
        latency_tolerance_seconds=tolerance,
        min_agreement=min_agreement,
        max_class_shift=max_shift,
    )


def load_file(path: Path) -> Policy:
    """Read and check a policy file; PolicyError names the file and the field."""
    import yaml  # the judge never reads files, so its image needs no YAML parser

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PolicyError(f"{path}: cannot read: {error}".splitlines()[0]) from None
    try:
        return parse_policy(document)
    except PolicyError as error:
        raise PolicyError(f"{path}: {error}") from None
