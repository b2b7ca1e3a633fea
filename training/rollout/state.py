"""The registry protocol of a rollout: aliases and model-version tags, nothing else.

- `<stable>-candidate` points at the version under test; its existence is what makes the
  services load it. `<stable>-previous` keeps what a promotion replaced.
- On the candidate version (MLflow caps a model-version tag value at 100,000 characters at
  3.17.2, mlflow/utils/validation.py MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH; every tag here stays
  under MAX_TAG_CHARS so the services' poll answers stay small):
  `rollout.state`       where the rollout is: step, mode, weight, status, times (below)
  `rollout.policy`      the policy snapshot `rollout start` read from git, with its source
  `rollout.evaluation`  the judge's last evaluation: verdict and evidence per gate
  `rollout.history`     every action (start, advance, pause, resume, promote, abort) with
                        its evidence, newest last, capped to fit
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from .policy import Policy, PolicyError, parse_policy

TAG_STATE = "rollout.state"
TAG_POLICY = "rollout.policy"
TAG_EVALUATION = "rollout.evaluation"
TAG_HISTORY = "rollout.history"
MAX_TAG_CHARS = 8000

RUNNING = "running"  # evaluating the current step
PAUSED = "paused"  # the step's time is up but the evidence is inconclusive
AWAITING_PROMOTION = "awaiting-promotion"  # every step passed; a person promotes
PROMOTED = "promoted"
ABORTED = "aborted"
ACTIVE = (RUNNING, PAUSED, AWAITING_PROMOTION)
STATUSES = (*ACTIVE, PROMOTED, ABORTED)


class StateError(ValueError):
    """A rollout tag that cannot be read; the message names the tag."""


@dataclass(frozen=True)
class RolloutState:
    model: str
    tenant: str
    stable_alias: str
    stable_version: str
    candidate_version: str
    step: int  # index into the policy's steps
    mode: str  # the step's mode: shadow or canary
    weight: int  # percent of requests the candidate answers (0 in shadow)
    status: str
    started_at: float  # unix seconds
    step_started_at: float
    deadline_at: float
    updated_at: float

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def at_step(self, policy: Policy, index: int, now: float) -> RolloutState:
        step = policy.steps[index]
        return replace(
            self,
            step=index,
            mode=step.mode,
            weight=step.weight,
            status=RUNNING,
            step_started_at=now,
            updated_at=now,
        )

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def decode(cls, raw: str) -> RolloutState:
        try:
            data = json.loads(raw)
            state = cls(**data)
        except (ValueError, TypeError) as error:
            raise StateError(f"tag {TAG_STATE} is not a rollout state: {error}") from None
        if state.status not in STATUSES or state.mode not in ("shadow", "canary"):
            raise StateError(f"tag {TAG_STATE}: unknown status {state.status!r} or mode")
        return state


def initial_state(
    policy: Policy, model: str, tenant: str, stable_version: str, candidate: str, now: float
) -> RolloutState:
    first = policy.steps[0]
    return RolloutState(
        model=model,
        tenant=tenant,
        stable_alias=policy.stable_alias,
        stable_version=stable_version,
        candidate_version=candidate,
        step=0,
        mode=first.mode,
        weight=first.weight,
        status=RUNNING,
        started_at=now,
        step_started_at=now,
        deadline_at=now + policy.deadline_seconds,
        updated_at=now,
    )


@dataclass(frozen=True)
class Snapshot:
    """The policy as `rollout start` read it from git, and where from."""

    policy: Policy
    tenant: str
    source: str  # the overlay file, relative to the repository
    commit: str

    def encode(self) -> str:
        return json.dumps(
            {
                "tenant": self.tenant,
                "source": self.source,
                "commit": self.commit,
                "policy": self.policy.to_document(),
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, raw: str) -> Snapshot:
        try:
            data = json.loads(raw)
            return cls(
                parse_policy(data["policy"]),
                str(data["tenant"]),
                str(data.get("source", "")),
                str(data.get("commit", "")),
            )
        except (ValueError, TypeError, KeyError, PolicyError) as error:
            raise StateError(f"tag {TAG_POLICY} is not a policy snapshot: {error}") from None


def history_entry(
    action: str, state: RolloutState, by: str, reason: str, evidence: str = ""
) -> dict[str, Any]:
    return {
        "action": action,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "by": by,
        "step": state.step,
        "mode": state.mode,
        "weight": state.weight,
        "status": state.status,
        "reason": reason[:300],
        "evidence": evidence[:600],
    }


def append_history(raw: str | None, entry: dict[str, Any]) -> str:
    """The history tag with `entry` appended; the oldest entries after `start` go first
    when the tag would grow past MAX_TAG_CHARS."""
    try:
        entries = json.loads(raw) if raw else []
        if not isinstance(entries, list):
            entries = []
    except ValueError:
        entries = []
    entries.append(entry)
    encoded = json.dumps(entries, separators=(",", ":"))
    while len(encoded) > MAX_TAG_CHARS and len(entries) > 2:
        del entries[1]
        encoded = json.dumps(entries, separators=(",", ":"))
    return encoded


def read_history(raw: str | None) -> list[dict[str, Any]]:
    try:
        entries = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
