"""Routing during a rollout, without servers: the key split, the exact keyless share, the
shadow comparison, the state the service reads and the mounted policy it accepts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from inference.contracts.mounted_policy import PolicyFileError, read_rollout_config
from inference.models.model import Prediction
from inference.rollout.candidate import read_state
from inference.rollout.routing import CANARY, SHADOW, Route, Router, key_share
from inference.rollout.shadow import largest_differences
from tests.support.rollouts import policy_document, write_policy
from training.rollout.policy import parse_policy
from training.rollout.state import TAG_STATE, initial_state


def _route(weight: int, mode: str = CANARY) -> Route:
    return Route(candidate=object(), mode=mode, weight=weight, step=1)  # type: ignore[arg-type]


def test_the_same_key_always_gets_the_same_answer_and_the_share_is_the_weight() -> None:
    keys = [f"user-{i}" for i in range(20_000)]
    first, second = Router("x-routing-key"), Router("X-Routing-Key")
    route = _route(10)
    picks = [first.to_candidate(route, {"x-routing-key": k}) for k in keys]
    # Another replica (another Router) decides the same for every key.
    assert picks == [second.to_candidate(route, {"x-routing-key": k}) for k in keys]
    assert sum(picks) / len(keys) == pytest.approx(0.10, abs=0.006)
    # Raising the weight only moves keys to the candidate.
    wider = [first.to_candidate(_route(50), {"x-routing-key": k}) for k in keys]
    assert all(w for p, w in zip(picks, wider, strict=True) if p)
    assert sum(wider) / len(keys) == pytest.approx(0.50, abs=0.015)
    assert 0 <= key_share("anything") < 1


@pytest.mark.parametrize("weight", [1, 10, 33, 50, 99])
def test_without_a_key_every_100_requests_send_exactly_weight(weight: int) -> None:
    router = Router("x-routing-key")
    route = _route(weight)
    router.to_candidate(route, {})  # wherever the running share stands
    for _ in range(3):
        assert sum(router.to_candidate(route, {}) for _ in range(100)) == weight


def test_shadow_never_routes_to_the_candidate() -> None:
    router = Router("x-routing-key")
    assert not any(
        router.to_candidate(_route(0, SHADOW), {"x-routing-key": str(i)}) for i in range(100)
    )


def test_largest_difference_per_row_over_the_union_of_classes() -> None:
    stable = Prediction([0, 2], [[0.9, 0.1, 0.0], [0.1, 0.2, 0.7]])
    same = Prediction([0, 2], [[0.8, 0.2, 0.0], [0.1, 0.2, 0.7]])
    assert largest_differences([0, 1, 2], stable, [0, 1, 2], same) == pytest.approx([0.1, 0.0])
    # A candidate that lost class 2: its probability there counts as 0.
    fewer = Prediction([0, 1], [[1.0, 0.0], [0.1, 0.9]])
    assert largest_differences([0, 1, 2], stable, [0, 1], fewer) == pytest.approx([0.1, 0.7])


def test_the_service_reads_the_state_the_training_tools_write() -> None:
    policy = parse_policy(policy_document())
    state = initial_state(policy, "m", "t", "1", "2", time.time())
    first = read_state({TAG_STATE: state.encode()})
    assert first is not None
    assert (first.status, first.mode, first.weight, first.step) == ("running", "shadow", 0, 0)
    read = read_state({TAG_STATE: state.at_step(policy, 2, time.time()).encode()})
    assert read is not None
    assert (read.status, read.mode, read.weight, read.step, read.active) == (
        "running", "canary", 50, 2, True,
    )  # fmt: skip
    assert read_state({}) is None
    assert read_state({TAG_STATE: "{not json"}) is None
    assert (
        read_state({TAG_STATE: '{"status": "running", "mode": "blue", "weight": 1, "step": 0}'})
        is None
    )


def test_mounted_policy_opts_in_and_must_follow_the_served_alias(tmp_path: Path) -> None:
    path = tmp_path / "rollout.yaml"
    assert read_rollout_config(path, "staging") is None  # nothing mounted: no rollouts
    write_policy(path, policy_document(routingHeader="X-User"))
    config = read_rollout_config(path, "staging")
    assert config is not None
    assert (config.candidate_alias, config.routing_header) == ("staging-candidate", "x-user")
    with pytest.raises(PolicyFileError, match="stableAlias: got 'staging', expected 'production'"):
        read_rollout_config(path, "production")
    with pytest.raises(PolicyFileError, match="MODEL_URI pins a version"):
        read_rollout_config(path, None)
    path.write_text("kind: Deployment\n")
    with pytest.raises(PolicyFileError, match="apiVersion/kind"):
        read_rollout_config(path, "staging")


def test_a_bad_policy_stops_the_start_naming_the_variable(tmp_path: Path) -> None:
    from inference.settings import Settings, SettingsError

    path = write_policy(tmp_path / "rollout.yaml", policy_document(routingHeader="x y"))
    env = {
        "MODEL_URI": "models:/m@staging",
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:1",
        "ROLLOUT_POLICY_FILE": str(path),
    }
    with pytest.raises(SettingsError, match=r"ROLLOUT_POLICY_FILE .*routingHeader: got 'x y'"):
        Settings.from_env(env)
    write_policy(path, policy_document())
    assert Settings.from_env(env).models[0].rollout is not None
    unmounted = {**env, "ROLLOUT_POLICY_FILE": str(tmp_path / "none")}
    assert Settings.from_env(unmounted).models[0].rollout is None
