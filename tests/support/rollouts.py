"""Rollouts in tests: a policy file, and a candidate put on its alias exactly as
`python -m training rollout start` records it (training/rollout/state.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from training.rollout import actions
from training.rollout.mlflow_rest import MlflowRest
from training.rollout.policy import parse_policy
from training.rollout.state import TAG_STATE, RolloutState, Snapshot


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
    """Start a rollout of `version` as `rollout start` does (after its gate), at `step`."""
    rest = MlflowRest(tracking_uri)
    policy = parse_policy(document)
    stable = rest.model(model).aliases[policy.stable_alias]
    snapshot = Snapshot(policy, tenant, "tests", "")
    state = actions.start(rest, snapshot, model, version, stable, "tests", "test rollout")
    if step:
        state = state.at_step(policy, step, time.time())
        rest.set_version_tag(model, version, TAG_STATE, state.encode())
    return state


def set_state(tracking_uri: str, state: RolloutState) -> None:
    from mlflow import MlflowClient

    MlflowClient(tracking_uri).set_model_version_tag(
        state.model, state.candidate_version, TAG_STATE, state.encode()
    )


class Traffic:
    """Client traffic against one service from background threads: random iris rows, one
    per request, optionally with a fresh routing key each; counts every failed request."""

    def __init__(
        self, url: str, rows: list[list[float]], threads: int = 2, keyed: bool = False
    ) -> None:
        import random
        import threading

        self.url = url
        self.rows = rows
        self.keyed = keyed
        self.sent = 0
        self.failed: list[str] = []
        self.by_version: dict[str, int] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._random = random.Random(7)
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self) -> None:
        import httpx

        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                with self._lock:
                    row = self._random.choice(self.rows)
                    key = f"k{self._random.random()}"
                headers = {"x-routing-key": key} if self.keyed else {}
                try:
                    response = client.post(f"{self.url}/predict", json=row, headers=headers)
                    outcome = None if response.status_code == 200 else f"{response.status_code}"
                    version = response.json()["model"]["version"] if outcome is None else ""
                    if response.headers.get("x-model-version", version) != version:
                        outcome = "X-Model-Version disagrees with the body"
                except (httpx.HTTPError, ValueError, KeyError) as error:
                    outcome, version = f"{type(error).__name__}: {error}", ""
                with self._lock:
                    self.sent += 1
                    self.by_version[version] = self.by_version.get(version, 0) + 1
                    if outcome is not None:
                        self.failed.append(outcome)
