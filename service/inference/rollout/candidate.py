"""Rollouts in the service: follow a model's candidate alias, then answer, shadow or route.

When a served model has a rollout policy (its entry's `rollout:` in the tenant's models.yaml,
or ROLLOUT_POLICY_FILE beside MODEL_URI; mounted_policy.py), every poll also looks for
`<alias>-candidate` of that model. Each model rolls out on its own: its candidate alias, its
policy's routing header, its cache folder, its metrics (the `model` label). A candidate whose
state (the tag rollout.state on its version, written by `python -m training rollout` and the
judge) is active is loaded beside the stable version with the rules of a swap: downloaded into
its own cache folder, loaded, checked on its input example, refused when its signature differs
from the stable one or its memory exceeds the model's resource class, retried with backoff. It
is dropped as soon as the alias goes away or the state ends. Readiness never depends on it,
and a candidate failure never fails a request: in shadow the stable version has already
answered, in canary the stable version answers instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from inference.contracts.mounted_policy import RolloutConfig
from inference.models.load_policy import IntegrityError
from inference.models.loader import load_version, prune_cache
from inference.models.model import ModelCheckError, Prediction, ServedModel
from inference.models.registry import Registry
from inference.monitoring.metrics import ModelMetrics
from inference.monitoring.rollout_metrics import CANDIDATE, STABLE, ModelRolloutMetrics
from inference.rollout.routing import CANARY, SHADOW, Route, Router
from inference.rollout.shadow import ShadowRunner
from inference.serving.batching import Overloaded, Predictor
from inference.serving.swap import (
    MAX_BACKOFF_SECONDS,
    ModelHolder,
    Refusal,
    describe_change,
    jittered,
    memory_refusal,
    new_build_lock,
    refused_error,
)
from inference.settings import ModelSettings, Settings

log = logging.getLogger("inference.rollout")

STATE_TAG = "rollout.state"
ACTIVE_STATUSES = ("running", "paused", "awaiting-promotion")
CACHE_FOLDER = ".rollout"  # beside the stable versions; the reloader's pruning never sees it


@dataclass(frozen=True)
class CandidateState:
    """What the service reads of the rollout state: the rest is the judge's."""

    status: str
    mode: str
    weight: int
    step: int

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


def read_state(tags: Mapping[str, str]) -> CandidateState | None:
    """The state recorded on the candidate version, or None when it has none or a bad one."""
    raw = tags.get(STATE_TAG)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        state = CandidateState(
            str(data["status"]), str(data["mode"]), int(data["weight"]), int(data["step"])
        )
    except (ValueError, KeyError, TypeError):
        return None
    if state.mode not in (SHADOW, CANARY) or not 0 <= state.weight <= 100:
        return None
    return state


class Rollout:
    def __init__(
        self,
        settings: Settings,
        spec: ModelSettings,
        config: RolloutConfig,
        metrics: ModelRolloutMetrics,
        holder: ModelHolder,
        predictor: Predictor,
        registry_factory: Callable[[str], Registry],
        build_lock: threading.Lock | None = None,
        model_metrics: ModelMetrics | None = None,
    ) -> None:
        self._settings = settings
        # The model's own series: a candidate refused for its files counts there too.
        self._model_metrics = model_metrics
        self._spec = spec
        self.config = config
        self._holder = holder
        self._predictor = predictor
        self._registry_factory = registry_factory
        self._build_lock = build_lock or new_build_lock()
        self._registry: Registry | None = None
        self.metrics = metrics
        self.router = Router(config.routing_header)
        self.shadow = ShadowRunner(self.metrics, settings.shadow_queue_max_requests)
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None
        self.last_check: float | None = None
        self.refused: Refusal | None = None
        self._failures = 0
        self._retry_at = 0.0

    # --- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        await self.shadow.start()
        if self._settings.reload_interval_seconds <= 0:
            log.warning(
                "%s: RELOAD_INTERVAL_SECONDS=0: a rollout policy is mounted but never polled",
                self._spec.name,
            )
            return
        self._task = asyncio.create_task(self._follow(), name="rollout")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.shadow.stop()

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(jittered(self._settings.reload_interval_seconds))
            if self._holder.current is None or time.monotonic() < self._retry_at:
                continue
            try:
                await asyncio.to_thread(self.refresh_blocking)
            except Exception as exc:
                self._failures += 1
                self.last_error = str(exc)
                self.metrics.candidate_loads["failure"].inc()
                delay = min(2 ** (self._failures - 1), MAX_BACKOFF_SECONDS)
                self._retry_at = time.monotonic() + delay
                log.warning(
                    "%s: candidate check failed (attempt %d): %s",
                    self._spec.name,
                    self._failures,
                    exc,
                )

    # --- following the candidate alias -------------------------------------------------
    def refresh_blocking(self) -> None:
        """One look at the candidate alias: load, move or drop the candidate."""
        name = self._spec.name
        if self._registry is None:
            self._registry = self._registry_factory(self._settings.tracking_uri)
        registry = self._registry
        version = registry.aliases(name).get(self.config.candidate_alias)
        self.last_check = time.time()
        stable = self._holder.current
        if version is None or stable is None or version == stable.version:
            # No rollout, or the candidate became the stable version (promoted).
            self._drop("no candidate" if version is None else "candidate is now stable")
            return
        version, run_id, tags = registry.alias_with_tags(name, self.config.candidate_alias)
        state = read_state(tags)
        if state is None or not state.active:
            self._drop(f"rollout of v{version} {state.status if state else 'has no state'}")
            return
        route = self.router.route
        candidate = route.candidate if route and route.candidate.version == version else None
        if candidate is None:
            self._drop(f"v{version} replaces it")
            candidate = self._load(version, run_id, stable)
        new_route = Route(candidate, state.mode, state.weight, state.step)
        if route is None or route.candidate is not candidate:
            self.metrics.began(stable, candidate, state.mode, state.weight)
            log.info(
                "rollout of %s: v%s loaded beside v%s, %s",
                name,
                version,
                stable.version,
                _how(new_route),
            )
        elif (route.mode, route.weight) != (state.mode, state.weight):
            self.metrics.moved(version, state.mode, state.weight)
            log.info("rollout of %s: v%s now %s", name, version, _how(new_route))
        self.router.set(new_route)
        self._failures = 0
        self.last_error = None

    def _load(self, version: str, run_id: str | None, stable: ServedModel) -> ServedModel:
        cache = self._settings.model_cache_dir / CACHE_FOLDER
        name = self._spec.name
        assert self._registry is not None
        try:
            candidate = load_version(
                self._registry,
                name,
                version,
                self.config.candidate_alias,
                run_id,
                cache,
                self._settings.model_runtime,
                self._build_lock,
                self._settings.load_policy,
            )
        except IntegrityError as exc:
            if self._model_metrics is not None:
                self._model_metrics.integrity_failures[exc.reason].inc()
            raise
        prune_cache(cache, name, keep={version})
        refusal = memory_refusal(candidate, self._spec)
        if refusal is not None:
            del candidate  # let it go now: nothing may keep it alive
            self.refused = refusal
            raise refused_error(refusal, self._spec, "candidate ")
        if candidate.schema.columns != stable.schema.columns:
            # Clients send the stable version's schema: the candidate could not read it.
            raise ModelCheckError(
                f"candidate v{version} changes the signature "
                f"({describe_change(stable, candidate)}); not loaded"
            )
        self.metrics.candidate_loads["success"].inc()
        return candidate

    def _drop(self, why: str) -> None:
        route = self.router.route
        if route is None:
            return
        self.router.set(None)
        self.metrics.ended()
        prune_cache(self._settings.model_cache_dir / CACHE_FOLDER, self._spec.name, set())
        log.info("rollout of %s: v%s dropped (%s)", self._spec.name, route.candidate.version, why)

    # --- the prediction path -------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.router.route is not None

    async def predict(
        self, stable: ServedModel, rows: list[list[Any]], headers: Mapping[str, str]
    ) -> tuple[ServedModel, Prediction]:
        """The prediction and the version that gave it."""
        route = self.router.route
        # Rows the candidate cannot take as they are (a value beyond its float32 input, a NaN
        # it refuses) are answered by the stable version, which accepted them.
        if (
            route is not None
            and self.router.to_candidate(route, headers)
            and route.candidate.schema.admits(rows)
        ):
            candidate = route.candidate
            started = time.perf_counter()
            try:
                prediction = await self._predictor.predict(candidate, rows)
                if not _finite(prediction):
                    raise ValueError("non-finite probabilities")
            except Overloaded:
                raise
            except Exception as exc:
                # Counted against the candidate; the stable version answers instead.
                self.metrics.failed(CANDIDATE, candidate)
                log.debug("candidate v%s failed, stable answers: %s", candidate.version, exc)
            else:
                self.metrics.answered(
                    CANDIDATE, candidate, prediction, time.perf_counter() - started
                )
                return candidate, prediction
        started = time.perf_counter()
        try:
            prediction = await self._predictor.predict(stable, rows)
        except Overloaded:
            raise
        except Exception:
            if route is not None:
                self.metrics.failed(STABLE, stable)
            raise
        if route is not None:
            self.metrics.answered(STABLE, stable, prediction, time.perf_counter() - started)
            if route.mode == SHADOW:
                if route.candidate.schema.admits(rows):
                    self.shadow.submit(stable, route.candidate, rows, prediction)
                else:
                    self.metrics.skipped(route.candidate, "values")
        return stable, prediction

    def headers(self, answered_by: ServedModel) -> dict[str, str]:
        route = self.router.route
        role = CANDIDATE if route is not None and answered_by is route.candidate else STABLE
        return {"X-Model-Version": answered_by.version, "X-Rollout-Role": role}

    def describe(self) -> dict[str, Any]:
        route = self.router.route
        return {
            "candidate_alias": self.config.candidate_alias,
            "routing_header": self.config.routing_header,
            "candidate_version": route.candidate.version if route else None,
            "mode": route.mode if route else None,
            "weight": route.weight if route and route.mode == CANARY else 0,
            "step": route.step if route else None,
            "last_check": self.last_check,
            "last_error": self.last_error,
            "refused": self.refused.describe() if self.refused else None,
        }


def _how(route: Route) -> str:
    return "shadow" if route.mode == SHADOW else f"canary {route.weight}%"


def _finite(prediction: Prediction) -> bool:
    if prediction.probabilities is None:
        return True
    return all(math.isfinite(p) for row in prediction.probabilities for p in row)
