"""Keep a served model current: first load, then poll its alias and hot-swap.

The swap is one attribute assignment. A request reads `holder.current` once and keeps that
object to the end, so in-flight requests finish on the version they started with, and a
version that fails to download, load or pass its self-check never replaces the served one.
A version whose measured memory is above its model's resource class is refused the same way.

Each served model has its own holder and reloader (its alias, backoff, cache folder, errors),
so whatever happens to one model's versions never touches another's. They share one lock
around building a version in memory, so the process holds at most one version more than it
serves (what memory_needed in contracts/tenant_models.py budgets for).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from inference.models.load_policy import IntegrityError
from inference.models.loader import load_version, prune_cache
from inference.models.model import ModelCheckError, ServedModel
from inference.models.registry import Registry
from inference.monitoring.metrics import ModelMetrics
from inference.settings import ModelSettings, Settings

log = logging.getLogger("inference.swap")

MAX_BACKOFF_SECONDS = 300.0


MIB = 1024 * 1024


class MemoryRefused(ModelCheckError):
    """A version loaded and passed its check, but measured above its model's resource class."""


@dataclass(frozen=True)
class Refusal:
    """The last version refused for its memory: what it measured against its class."""

    version: str
    measured_bytes: int
    class_bytes: int
    at: float

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "measured_bytes": self.measured_bytes,
            "class_bytes": self.class_bytes,
            "at": self.at,
        }


@dataclass
class ModelHolder:
    current: ServedModel | None = None
    last_error: str | None = None
    last_check: float | None = None
    refused: Refusal | None = None


def memory_refusal(model: ServedModel, spec: ModelSettings) -> Refusal | None:
    """The refusal of a version that measured above its model's resource class; None for one
    that fits or could not be measured."""
    measured, allowed = model.memory_bytes, spec.memory_bytes
    if measured is None or measured <= allowed:
        return None
    return Refusal(model.version, measured, allowed, time.time())


def refused_error(refusal: Refusal, spec: ModelSettings, what: str = "") -> MemoryRefused:
    return MemoryRefused(
        f"{what}v{refusal.version} needs {refusal.measured_bytes / MIB:.1f} MiB, above its "
        f"resource class {spec.entry.resources} ({refusal.class_bytes / MIB:.0f} MiB): not "
        "served; declare a larger class in the tenant's models.yaml"
    )


def new_build_lock() -> threading.Lock:
    """The one lock of a service around building a version in memory (models/loader.py)."""
    return threading.Lock()


def jittered(seconds: float) -> float:
    """Spread polls of many replicas so they don't hit the registry in step."""
    return seconds * random.uniform(0.8, 1.2)


class Reloader:
    def __init__(
        self,
        settings: Settings,
        spec: ModelSettings,
        metrics: ModelMetrics,
        holder: ModelHolder,
        registry_factory: Callable[[str], Registry] = Registry,
        build_lock: threading.Lock | None = None,
    ) -> None:
        self._settings = settings
        self._spec = spec
        self._metrics = metrics
        self._holder = holder
        self._registry_factory = registry_factory
        self._build_lock = build_lock or new_build_lock()
        self._registry: Registry | None = None
        self._failures = 0
        self._previous_version: str | None = None

    def _cached_versions(self) -> set[str]:
        """What the model cache keeps: the served version and the one it replaced."""
        current = self._holder.current
        return {v for v in (current and current.version, self._previous_version) if v}

    @property
    def polls(self) -> bool:
        """A fixed version never changes; only an alias is worth polling."""
        return self._spec.uri.alias is not None and self._settings.reload_interval_seconds > 0

    def _next_delay(self) -> float:
        if self._failures:
            base = min(self._settings.reload_interval_seconds or 1.0, 1.0)
            return jittered(min(base * 2 ** (self._failures - 1), MAX_BACKOFF_SECONDS))
        return jittered(self._settings.reload_interval_seconds)

    async def run(self) -> None:
        """Load until a model is served, then keep it current (if polling)."""
        while self._holder.current is None:
            await self.refresh()
            if self._holder.current is None:
                await asyncio.sleep(self._next_delay())
        while self.polls:
            await asyncio.sleep(self._next_delay())
            await self.refresh()

    async def refresh(self) -> bool:
        """One check of the registry; returns True if a new version is now served."""
        try:
            return await asyncio.to_thread(self._refresh_blocking)
        except Exception as exc:
            self._failures += 1
            self._holder.last_error = str(exc)
            result = "refused" if isinstance(exc, MemoryRefused) else "failure"
            self._metrics.reloads[result].inc()
            if isinstance(exc, IntegrityError):
                self._metrics.integrity_failures[exc.reason].inc()
            serving = self._holder.current
            log.warning(
                "%s: model refresh failed (attempt %d), %s: %s",
                self._spec.name,
                self._failures,
                f"still serving v{serving.version}" if serving else "not ready yet",
                exc,
            )
            return False

    def _refresh_blocking(self) -> bool:
        ref = self._spec.uri
        if self._registry is None:
            self._registry = self._registry_factory(self._settings.tracking_uri)
        version, run_id = self._registry.resolve(ref)
        self._holder.last_check = time.time()
        current = self._holder.current
        if current is not None and current.version == version:
            # The alias points at what is served (again): an earlier failure is history.
            self._failures = 0
            self._holder.last_error = None
            return False
        log.info(
            "loading %s v%s (serving %s)", ref.name, version, current and f"v{current.version}"
        )
        cache_dir = self._settings.model_cache_dir
        model = load_version(
            self._registry,
            ref.name,
            version,
            ref.alias,
            run_id,
            cache_dir,
            self._settings.model_runtime,
            self._build_lock,
            self._settings.load_policy,
        )
        refusal = memory_refusal(model, self._spec)
        if refusal is not None:
            del model  # let it go now: nothing may keep it alive
            self._holder.refused = refusal
            prune_cache(cache_dir, ref.name, keep=self._cached_versions())
            raise refused_error(refusal, self._spec)
        if current is not None and model.schema.columns != current.schema.columns:
            # Clients of this tenant send the served schema; a new one needs a new model name.
            prune_cache(cache_dir, ref.name, keep=self._cached_versions())
            raise ModelCheckError(
                f"v{version} changes the signature ({describe_change(current, model)}); "
                f"still serving v{current.version}"
            )
        self._holder.current = model
        # A full collection walks every object of sklearn and scipy (~0.15 s on 2
        # cores, seen as p99 spikes under load); what exists once a model is loaded is
        # long-lived, so keep it out of later collections (refcounting still frees it).
        gc.freeze()
        self._holder.last_error = None
        self._failures = 0
        self._metrics.served(version, ref.alias, model.runtime)
        self._metrics.reloads["success"].inc()
        self._metrics.last_load.set(model.loaded_at)
        if model.memory_bytes is not None:
            self._metrics.memory.set(model.memory_bytes)
        # Keep the version just replaced too: moving the alias back (a rollback) then
        # needs no download.
        self._previous_version = current.version if current is not None else None
        prune_cache(cache_dir, ref.name, keep=self._cached_versions())
        log.info("serving %s v%s", ref.name, version)
        return True


def describe_change(old: ServedModel, new: ServedModel) -> str:
    before = {c.name: c.type for c in old.schema.columns}
    after = {c.name: c.type for c in new.schema.columns}
    parts = [f"-{n}" for n in before if n not in after] + [
        f"+{n}" for n in after if n not in before
    ]
    parts += [
        f"{n}: {before[n]}->{after[n]}" for n in before if n in after and before[n] != after[n]
    ]
    return ", ".join(parts) or "column order"
