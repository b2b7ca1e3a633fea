"""Alias moves with their history, kept as registered-model tags `alias_history.<alias>`.

Each entry: {"action": "promote"|"rollback", "version", "previous", "by", "at", "reason"}.
Promotions stack up; a rollback pops the newest promotion still in effect and moves the alias
to that promotion's `previous`. The list is capped, so very old moves cannot be rolled back."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from training.errors import OperationError

if TYPE_CHECKING:
    from mlflow import MlflowClient

TAG_PREFIX = "alias_history."
# MLflow caps a tag value at 5000 characters (sqlite store); stay well below.
MAX_TAG_CHARS = 4500


@dataclass(frozen=True)
class Move:
    action: str
    version: str
    previous: str | None
    by: str
    at: str
    reason: str


def history_tag(alias: str) -> str:
    return f"{TAG_PREFIX}{alias}"


def read_history(client: MlflowClient, model: str, alias: str) -> list[Move]:
    raw = client.get_registered_model(model).tags.get(history_tag(alias))
    if not raw:
        return []
    try:
        return [Move(**entry) for entry in json.loads(raw)]
    except (ValueError, TypeError) as error:
        raise OperationError(
            f"{model}: tag {history_tag(alias)} is not a valid alias history ({error})"
        ) from None


def _encode(moves: list[Move], limit: int) -> str:
    kept = moves[-limit:]
    encoded = json.dumps([asdict(m) for m in kept], separators=(",", ":"))
    while len(encoded) > MAX_TAG_CHARS and len(kept) > 1:
        kept = kept[1:]
        encoded = json.dumps([asdict(m) for m in kept], separators=(",", ":"))
    return encoded


def rollback_target(moves: list[Move]) -> tuple[str | None, Move | None]:
    """(version to go back to, the promotion being undone); (None, None) when nothing is left."""
    stack: list[Move] = []
    for move in moves:
        if move.action == "promote":
            stack.append(move)
        elif move.action == "rollback" and stack:
            stack.pop()
    if not stack:
        return None, None
    return stack[-1].previous, stack[-1]


def move_alias(client: MlflowClient, model: str, alias: str, move: Move, limit: int) -> None:
    """Point the alias at move.version and record the move on the model and on the version."""
    client.set_registered_model_alias(model, alias, move.version)
    moves = [*read_history(client, model, alias), move]
    client.set_registered_model_tag(model, history_tag(alias), _encode(moves, limit))
    client.set_model_version_tag(
        model,
        move.version,
        f"promoted_to.{alias}" if move.action == "promote" else f"rolled_back_to.{alias}",
        json.dumps(
            {"by": move.by, "at": move.at, "reason": move.reason, "previous": move.previous}
        ),
    )
