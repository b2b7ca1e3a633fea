"""Rollouts in tests: a policy file, and a candidate put on its alias exactly as
`python -m training rollout start` records it (training/rollout/state.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from training.rollout.policy import parse_policy
from training.rollout.state import (
    TAG_POLICY,
    TAG_STATE,
    RolloutState,
    Snapshot,
    initial_state,
)


def policy_document(stable_alias: str = "staging", **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "apiVersion": "ml-platform.example.com/v1alpha1",
        "kind": "RolloutPolicy",
        "stableAlias": stable_alias,
        "steps": [
            {"mode": "shadow", "duration": "4s"},
            {"mode": "canary", "weight": 10, "duration": "4s"},
            {"mode": "canary", "weight": 50, "duration": "4s"},
        ],
        "minRequests": 30,
    }
    document.update(overrides)
    return document


def write_policy(path: Path, document: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def put_candidate(
    tracking_uri: str,
    model: str,
    version: str,
    document: dict[str, Any],
    tenant: str,
    *,
    step: int = 0,
) -> RolloutState:
    """Record the snapshot and the state on `version`, then set `<stable>-candidate`."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    policy = parse_policy(document)
    stable = client.get_registered_model(model).aliases[policy.stable_alias]
    state = initial_state(policy, model, tenant, stable, version, time.time())
    if step:
        state = state.at_step(policy, step, time.time())
    client.set_model_version_tag(
        model, version, TAG_POLICY, Snapshot(policy, tenant, "", "").encode()
    )
    client.set_model_version_tag(model, version, TAG_STATE, state.encode())
    client.set_registered_model_alias(model, policy.candidate_alias, version)
    return state


def set_state(tracking_uri: str, state: RolloutState) -> None:
    from mlflow import MlflowClient

    MlflowClient(tracking_uri).set_model_version_tag(
        state.model, state.candidate_version, TAG_STATE, state.encode()
    )
