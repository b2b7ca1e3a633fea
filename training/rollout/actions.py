"""Every change a rollout makes to the registry, in one place: the CLI and the judge call
these, so a person's `rollout promote` and the judge's automatic one write the same things.

Order matters because the services poll concurrently: tags are written before the alias
that makes a version a candidate, the state says `aborted` before the alias goes, and a
promotion moves `<stable>-previous` and the stable alias before the candidate alias goes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from .mlflow_rest import MlflowRest, ModelInfo, RegistryError, VersionInfo
from .policy import Policy, candidate_alias, previous_alias
from .state import (
    ABORTED,
    AWAITING_PROMOTION,
    MAX_TAG_CHARS,
    PAUSED,
    PROMOTED,
    RUNNING,
    TAG_EVALUATION,
    TAG_HISTORY,
    TAG_POLICY,
    TAG_STATE,
    RolloutState,
    Snapshot,
    StateError,
    append_history,
    history_entry,
    initial_state,
)

# Registered-model tag naming the version of the newest rollout of an alias, so `status`
# still finds it once the candidate alias is gone.
LATEST_TAG = "rollout.latest."
# The alias history `promote` and `rollback` keep (training/lifecycle/aliases.py): same format.
ALIAS_HISTORY_TAG = "alias_history."
ALIAS_HISTORY_LIMIT = 20
ALIAS_HISTORY_MAX_CHARS = 4500


@dataclass(frozen=True)
class Rollout:
    """One rollout as the registry holds it."""

    model: ModelInfo
    candidate: VersionInfo
    snapshot: Snapshot
    state: RolloutState

    @property
    def policy(self) -> Policy:
        return self.snapshot.policy


def read(rest: MlflowRest, model: ModelInfo, version: str) -> Rollout:
    found = rest.version(model.name, version)
    if TAG_STATE not in found.tags or TAG_POLICY not in found.tags:
        raise StateError(f"{model.name} v{version} has no rollout tags")
    return Rollout(
        model,
        found,
        Snapshot.decode(found.tags[TAG_POLICY]),
        RolloutState.decode(found.tags[TAG_STATE]),
    )


def current(rest: MlflowRest, name: str, stable_alias: str) -> Rollout | None:
    """The rollout on `<stable>-candidate`, active or not; None without the alias."""
    model = rest.model(name)
    version = model.aliases.get(candidate_alias(stable_alias))
    return None if version is None else read(rest, model, version)


def latest(rest: MlflowRest, name: str, stable_alias: str) -> Rollout | None:
    """The newest rollout of the alias, also after it ended."""
    model = rest.model(name)
    version = model.aliases.get(candidate_alias(stable_alias)) or model.tags.get(
        LATEST_TAG + stable_alias
    )
    return None if version is None else read(rest, model, version)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def start(
    rest: MlflowRest,
    snapshot: Snapshot,
    model: str,
    version: str,
    stable: str,
    by: str,
    reason: str,
) -> RolloutState:
    policy = snapshot.policy
    state = initial_state(policy, model, snapshot.tenant, stable, version, time.time())
    entry = history_entry("start", state, by, reason, f"stable v{stable}; {_steps(policy)}")
    rest.set_version_tag(model, version, TAG_POLICY, snapshot.encode())
    rest.set_version_tag(model, version, TAG_STATE, state.encode())
    rest.set_version_tag(model, version, TAG_HISTORY, append_history(None, entry))
    rest.set_version_tag(model, version, TAG_EVALUATION, "{}")
    rest.set_model_tag(model, LATEST_TAG + policy.stable_alias, version)
    # Last: the alias is what makes the services load it.
    rest.set_alias(model, policy.candidate_alias, version)
    return state


def _steps(policy: Policy) -> str:
    return ", ".join(step.describe() for step in policy.steps)


def record(
    rest: MlflowRest,
    rollout: Rollout,
    state: RolloutState,
    action: str,
    by: str,
    reason: str,
    evidence: str,
) -> RolloutState:
    """Append the action to the history, then write the new state.

    The state is what services and readers act on, so it comes last: whoever sees a state
    also finds the action that led to it in the history (`rollout status`, the tests), and an
    interrupted write leaves at worst a recorded action the next evaluation repeats, never a
    state nobody recorded."""
    model, version = rollout.model.name, rollout.candidate.version
    state = replace(state, updated_at=time.time())
    raw = rest.version(model, version).tags.get(TAG_HISTORY)
    rest.set_version_tag(
        model,
        version,
        TAG_HISTORY,
        append_history(raw, history_entry(action, state, by, reason, evidence)),
    )
    rest.set_version_tag(model, version, TAG_STATE, state.encode())
    return state


def advance(rest: MlflowRest, rollout: Rollout, by: str, evidence: str) -> RolloutState:
    index = rollout.state.step + 1
    state = rollout.state.at_step(rollout.policy, index, time.time())
    why = f"step {rollout.state.step} passed; now {rollout.policy.steps[index].describe()}"
    return record(rest, rollout, state, "advance", by, why, evidence)


def pause(rest: MlflowRest, rollout: Rollout, by: str, evidence: str) -> RolloutState:
    state = replace(rollout.state, status=PAUSED)
    why = "the step's time is up but the evidence is inconclusive"
    return record(rest, rollout, state, "pause", by, why, evidence)


def resume(rest: MlflowRest, rollout: Rollout, by: str, evidence: str) -> RolloutState:
    state = replace(rollout.state, status=RUNNING)
    return record(rest, rollout, state, "resume", by, "the evidence became conclusive", evidence)


def await_promotion(rest: MlflowRest, rollout: Rollout, by: str, evidence: str) -> RolloutState:
    state = replace(rollout.state, status=AWAITING_PROMOTION)
    why = "every step passed; `python -m training rollout promote` moves the alias"
    return record(rest, rollout, state, "await-promotion", by, why, evidence)


def abort(
    rest: MlflowRest, rollout: Rollout, by: str, reason: str, evidence: str = ""
) -> RolloutState:
    state = replace(rollout.state, status=ABORTED)
    state = record(rest, rollout, state, "abort", by, reason, evidence)
    # After the state: a service that still sees the alias already reads `aborted`.
    _delete_alias(rest, rollout.model.name, rollout.policy.candidate_alias)
    return state


def promote(
    rest: MlflowRest, rollout: Rollout, by: str, reason: str, evidence: str = ""
) -> RolloutState:
    """Stable alias to the candidate; what it pointed at stays on `<stable>-previous`."""
    name, version = rollout.model.name, rollout.candidate.version
    alias = rollout.policy.stable_alias
    before = rest.model(name).aliases.get(alias)
    if before is not None:
        rest.set_alias(name, previous_alias(alias), before)
    rest.set_alias(name, alias, version)
    _append_alias_history(rest, name, alias, version, before, by, reason or "rollout promoted")
    rest.set_version_tag(
        name,
        version,
        f"promoted_to.{alias}",
        json.dumps({"by": by, "at": utc_now(), "reason": reason, "previous": before}),
    )
    state = replace(rollout.state, status=PROMOTED, weight=100)
    state = record(rest, rollout, state, "promote", by, reason or "promoted", evidence)
    _delete_alias(rest, name, rollout.policy.candidate_alias)
    return state


def record_evaluation(rest: MlflowRest, rollout: Rollout, encoded: str) -> None:
    rest.set_version_tag(
        rollout.model.name, rollout.candidate.version, TAG_EVALUATION, encoded[:MAX_TAG_CHARS]
    )


def _delete_alias(rest: MlflowRest, name: str, alias: str) -> None:
    try:
        rest.delete_alias(name, alias)
    except RegistryError as error:
        if error.status not in (400, 404):  # already gone
            raise


def _append_alias_history(
    rest: MlflowRest, name: str, alias: str, version: str, before: str | None, by: str, reason: str
) -> None:
    """One `promote` move in `alias_history.<alias>`, so `training rollback` undoes it."""
    raw = rest.model(name).tags.get(ALIAS_HISTORY_TAG + alias)
    try:
        moves = json.loads(raw) if raw else []
    except ValueError:
        moves = []
    moves.append(
        {
            "action": "promote",
            "version": version,
            "previous": before,
            "by": by,
            "at": utc_now(),
            "reason": reason,
        }
    )
    kept = moves[-ALIAS_HISTORY_LIMIT:]
    encoded = json.dumps(kept, separators=(",", ":"))
    while len(encoded) > ALIAS_HISTORY_MAX_CHARS and len(kept) > 1:
        kept = kept[1:]
        encoded = json.dumps(kept, separators=(",", ":"))
    rest.set_model_tag(name, ALIAS_HISTORY_TAG + alias, encoded)
