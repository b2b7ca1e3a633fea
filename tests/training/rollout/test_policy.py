"""The rollout policy parser: the shipped policies parse, every field is checked and a mistake
names the field and what was expected; the snapshot round-trips."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from training.rollout.policy import (
    PolicyError,
    format_duration,
    load_file,
    parse_duration,
    parse_policy,
)
from training.rollout.state import Snapshot

REPO_ROOT = Path(__file__).resolve().parents[3]
SHIPPED = sorted(REPO_ROOT.glob("overlays/*/tenants/*/rollout.yaml"))
MINIMAL: dict[str, Any] = {
    "apiVersion": "ml-platform.example.com/v1alpha1",
    "kind": "RolloutPolicy",
    "stableAlias": "staging",
    "steps": [
        {"mode": "shadow", "duration": "1m"},
        {"mode": "canary", "weight": 10, "duration": "2m"},
    ],
}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_shipped_policies_parse_and_round_trip(path: Path) -> None:
    policy = load_file(path)
    assert parse_policy(policy.to_document()) == policy
    snapshot = Snapshot(policy, "tenant-a", str(path), "abc")
    assert Snapshot.decode(snapshot.encode()) == snapshot


def test_shipped_policies_exist() -> None:
    assert SHIPPED, "no overlay declares a rollout policy"


def test_defaults_fill_in() -> None:
    policy = parse_policy(MINIMAL)
    assert policy.min_requests == 100
    assert policy.routing_header == "x-routing-key"
    assert policy.auto_promote is False
    assert policy.deadline_seconds == 3 * (60 + 120)
    assert policy.gates.min_agreement == 0.95
    assert [(s.mode, s.weight, s.duration_seconds) for s in policy.steps] == [
        ("shadow", 0, 60),
        ("canary", 10, 120),
    ]
    assert policy.candidate_alias == "staging-candidate"
    assert policy.previous_alias == "staging-previous"


def _with(change: dict[str, Any]) -> dict[str, Any]:
    document = copy.deepcopy(MINIMAL)
    for dotted, value in change.items():
        target = document
        *parents, last = dotted.split(".")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"apiVersion": "v1"}, "apiVersion: got 'v1', expected 'ml-platform.example.com/v1alpha1'"),
        ({"kind": "Rollout"}, "kind: got 'Rollout', expected 'RolloutPolicy'"),
        ({"stableAlias": KeyError}, "stableAlias: missing, it is required"),
        ({"stableAlias": "latest"}, "stableAlias: got 'latest', expected the alias"),
        ({"steps": []}, "steps: got a list, expected a non-empty list"),
        ({"steps.0.mode": "blue"}, "steps[0].mode: got 'blue', expected one of shadow, canary"),
        (
            {"steps.0.duration": "5 minutes"},
            "steps[0].duration: got '5 minutes', expected a duration",
        ),
        (
            {"steps.0.duration": "0s"},
            "steps[0].duration: got '0s', expected a duration longer than 0s",
        ),
        ({"steps.0.weight": 5}, "steps[0].weight: a shadow step sends no traffic"),
        ({"steps.1.weight": 100}, "steps[1].weight: got 100, expected an integer from 1 to 99"),
        ({"steps.1.weight": "10%"}, "steps[1].weight: got '10%', expected an integer from 1 to 99"),
        ({"steps.1.weight": KeyError}, "steps[1].weight: missing, it is required"),
        (
            {"steps.1.colour": "red"},
            "steps[1].colour: unknown field, expected one of duration, mode, weight",
        ),
        ({"minRequests": 0}, "minRequests: got 0, expected an integer from 1 to 10000000"),
        ({"minRequests": 1.5}, "minRequests: got 1.5, expected an integer"),
        ({"confidence": 1}, "confidence: got 1, expected a number in [0.5, 1)"),
        ({"autoPromote": "yes"}, "autoPromote: got 'yes', expected true or false"),
        (
            {"deadline": "1m"},
            "deadline: got '1m', expected at least the sum of the step durations (3m)",
        ),
        ({"routingHeader": "x user"}, "routingHeader: got 'x user', expected an HTTP header name"),
        (
            {"gates.latency.maxRatio": 1},
            "gates.latency.maxRatio: got 1, expected a number in (1, inf]",
        ),
        ({"gates.agreement.min": 1.2}, "gates.agreement.min: got 1.2, expected a number in [0, 1)"),
        ({"gates.classShift.max": True}, "gates.classShift.max: got True, expected a number"),
        (
            {"gates.errorRatio.max": 0.1},
            "gates.errorRatio.max: unknown field, expected one of maxIncrease",
        ),
        ({"gates.drift": {}}, "gates.drift: unknown field, expected one of agreement, classShift"),
        ({"steps2": []}, "steps2: unknown field, expected one of apiVersion"),
    ],
)
def test_a_mistake_names_the_field_and_what_was_expected(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(_with(change))
    assert message in str(raised.value)


def test_canary_weights_increase_and_shadow_comes_first() -> None:
    steps = [
        {"mode": "canary", "weight": 50, "duration": "1m"},
        {"mode": "canary", "weight": 10, "duration": "1m"},
    ]
    with pytest.raises(PolicyError, match=r"steps\[1\].weight: got 10, expected more than"):
        parse_policy({**MINIMAL, "steps": steps})
    steps = [
        {"mode": "canary", "weight": 10, "duration": "1m"},
        {"mode": "shadow", "duration": "1m"},
    ]
    with pytest.raises(PolicyError, match=r"steps\[1\].mode: got 'shadow' after a canary step"):
        parse_policy({**MINIMAL, "steps": steps})


def test_not_a_mapping() -> None:
    with pytest.raises(PolicyError, match="policy: got a list, expected a mapping"):
        parse_policy([])


def test_a_file_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump(_with({"minRequests": -1})))
    with pytest.raises(PolicyError, match=rf"{path}: minRequests: got -1"):
        load_file(path)
    path.write_text("steps: [")
    with pytest.raises(PolicyError, match=rf"{path}: cannot read"):
        load_file(path)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("10m", 600), ("1h30m", 5400), ("2h", 7200), ("1m5s", 65)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text, "d") == seconds
    assert parse_duration(format_duration(seconds), "d") == seconds


# The schema's two files (see the docstring of training/rollout/policy.py): the one the service
# and gitops import, and the judge's, which its image is built with.
SCHEMA = REPO_ROOT / "service" / "inference" / "contracts" / "rollout_policy.py"
JUDGE_COPY = REPO_ROOT / "training" / "rollout" / "policy.py"


def first_difference(schema: Path, copy: Path) -> str | None:
    """Where `copy` parts from `schema` (None when their bytes are the same)."""
    ours, theirs = schema.read_bytes(), copy.read_bytes()
    if ours == theirs:
        return None
    lines = zip(ours.splitlines(keepends=True), theirs.splitlines(keepends=True), strict=False)
    number = next((i for i, (a, b) in enumerate(lines, 1) if a != b), None)
    where = f"line {number}" if number else "the length"
    return f"{copy} differs from {schema} at {where}: copy the schema over it"


def test_the_judge_carries_the_schema_byte_for_byte() -> None:
    assert first_difference(SCHEMA, JUDGE_COPY) is None, first_difference(SCHEMA, JUDGE_COPY)


def test_a_copy_that_parts_from_the_schema_is_found(tmp_path: Path) -> None:
    planted = tmp_path / "policy.py"
    text = JUDGE_COPY.read_text(encoding="utf-8")
    planted.write_text(text.replace('MODES = ("shadow", "canary")', 'MODES = ("canary",)'))
    found = first_difference(SCHEMA, planted)
    assert found is not None
    line = 1 + text.splitlines().index('MODES = ("shadow", "canary")')
    assert f"at line {line}:" in found
    longer = tmp_path / "longer.py"
    longer.write_text(text + "# one line more\n", encoding="utf-8")
    assert "at the length:" in (first_difference(SCHEMA, longer) or "")
