"""Move an alias to a candidate version through the quality gate, and roll it back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from training.errors import OperationError
from training.lifecycle import aliases, evaluate, gate, pickle_free, provenance, registry
from training.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion


@dataclass
class AliasChange:
    model: str
    alias: str
    before: str | None
    after: str | None
    # metric -> value, measured now on the candidate's held-out data
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    changed: bool = True


def _signature(model: str, version: str):
    from mlflow.models import get_model_info

    return get_model_info(f"models:/{model}/{version}").signature


def promote(
    client: MlflowClient,
    settings: Settings,
    model: str,
    version: str,
    alias: str,
    *,
    reason: str = "",
    force: bool = False,
    allow_signature_change: bool = False,
    tolerance: float | None = None,
    by: str | None = None,
) -> AliasChange:
    registry.check_alias_allowed(settings, alias)
    candidate = registry.model_version(client, model, version)
    tolerance = settings.tolerance if tolerance is None else tolerance
    current = registry.alias_version(client, model, alias)
    change = AliasChange(model, alias, current, version)
    if current == version:
        change.changed = False
        change.notes.append(f"{alias} already points at version {version}; nothing to do")
        return change

    _refuse_during_rollout(client, model, alias)
    pickle_free.refuse_pickled(settings, model, version, alias)
    if current is None:
        change.notes.append(f"{alias} was not set: nothing to compare with, gate passes")
    elif run_gate(
        client,
        change,
        candidate,
        force=force,
        allow_signature_change=allow_signature_change,
        tolerance=tolerance,
    ):
        reason = f"{reason} [forced past gate]".strip()

    move = aliases.Move(
        action="promote",
        version=version,
        previous=current,
        by=provenance.actor(by),
        at=provenance.utc_now(),
        reason=reason,
    )
    aliases.move_alias(client, model, alias, move, settings.history_limit)
    return change


def run_gate(
    client: MlflowClient,
    change: AliasChange,
    candidate: ModelVersion,
    *,
    force: bool,
    allow_signature_change: bool,
    tolerance: float,
) -> bool:
    """The quality gate of `change.after` against `change.before` on the same held-out rows;
    fills in the scores and notes, raises OperationError when refused, returns True when
    --force overrode it. `rollout start` runs the same gate."""
    model, alias, version, current = change.model, change.alias, change.after, change.before
    current_signature = _signature(model, current)
    candidate_signature = _signature(model, version)
    diff = gate.signature_diff(current_signature, candidate_signature)
    if diff and not allow_signature_change:
        # --force does not cover this: clients built for the current schema would break.
        raise OperationError(
            f"{model} version {version} changes the signature of version {current}: "
            f"{diff.describe()}. Register it under a new model name, or pass "
            "--allow-signature-change if every client is ready for it"
        )
    if diff:
        change.notes.append(f"signature change allowed: {diff.describe()}")
    # The candidate's rows: its training run's held-out split, or the evaluation sample a
    # version registered from a team's own code carries.
    data = evaluate.evaluation_rows(client, candidate)
    candidate_rows = evaluate.columns_of(data.x, candidate_signature)
    change.scores["candidate"] = evaluate.scores(
        evaluate.load(model, version), candidate_rows, data.y
    )
    failures: list[str] = []
    try:
        current_rows = evaluate.columns_of(data.x, current_signature)
        change.scores["current"] = evaluate.scores(
            evaluate.load(model, current), current_rows, data.y
        )
    except (ValueError, KeyError) as error:
        if not diff:
            raise
        # After an allowed schema change the current version may not read the new columns.
        if not force:
            raise OperationError(
                f"version {current} cannot score the held-out data of version {version} "
                f"({error}); the gate cannot compare them, pass --force as well"
            ) from None
        change.scores.clear()
        change.notes.append(f"gate skipped with --force: version {current} cannot score it")
    else:
        failures = gate.metric_failures(
            change.scores["candidate"], change.scores["current"], tolerance
        )
    if failures and not force:
        raise OperationError(
            f"quality gate refused {model} version {version} for {alias} "
            f"(current {current}): " + "; ".join(failures) + ". Pass --force to override"
        )
    if failures:
        change.notes.append("gate overridden with --force: " + "; ".join(failures))
        return True
    if change.scores:
        change.notes.append(
            f"gate passed: {', '.join(gate.GATED_METRICS)} within {tolerance} of version "
            f"{current} on {len(data.x)} {data.what}"
        )
    return False


def _refuse_during_rollout(client: MlflowClient, model: str, alias: str) -> None:
    """Moving an alias under a running rollout would change what the judge compares."""
    from training.rollout.policy import candidate_alias
    from training.rollout.state import TAG_STATE, RolloutState, StateError

    version = registry.alias_version(client, model, candidate_alias(alias))
    if version is None:
        return
    try:
        state = RolloutState.decode(client.get_model_version(model, version).tags[TAG_STATE])
    except (KeyError, StateError):
        return
    if state.active:
        raise OperationError(
            f"a rollout of {model} version {version} on {alias} is {state.status}; finish it "
            f"with `python -m training rollout promote` or `rollout abort` first"
        )


def rollback(
    client: MlflowClient,
    settings: Settings,
    model: str,
    alias: str,
    *,
    reason: str = "",
    by: str | None = None,
) -> AliasChange:
    registry.check_alias_allowed(settings, alias)
    current = registry.require_alias(client, model, alias)
    target, undone = aliases.rollback_target(aliases.read_history(client, model, alias))
    if undone is None or target is None:
        raise OperationError(
            f"{model}@{alias} has no earlier version in its history "
            f"(tag {aliases.history_tag(alias)}); nothing to roll back to"
        )
    # The version rolled back to may be one a pickle-free tenant's pods would refuse (the
    # switch came later than that version).
    pickle_free.refuse_pickled(settings, model, target, alias)
    change = AliasChange(model, alias, current, target)
    if undone.version != current:
        change.notes.append(
            f"{alias} was moved outside this tool (history says {undone.version}, "
            f"registry says {current})"
        )
    move = aliases.Move(
        action="rollback",
        version=target,
        previous=current,
        by=provenance.actor(by),
        at=provenance.utc_now(),
        reason=reason or f"roll back version {undone.version}",
    )
    aliases.move_alias(client, model, alias, move, settings.history_limit)
    return change
