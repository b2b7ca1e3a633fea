"""The models one service serves, each on its own: holder, reloader, batching queue, rollout.

One ModelSlot per served model (settings.models): its holder of the served version, its
reloader polling its alias (backoff, cache folder <MODEL_CACHE_DIR>/<name>/), its predictor
(a batch never mixes models), its rollout when its entry has a policy, and its metrics (the
`model` label). Nothing is shared between slots but what must be: the build lock (one
version built in memory at a time), the Prometheus registry, and the drift exporter, which
exports each served version against that version's own reference.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from inference.models.model import ServedModel
from inference.models.registry import Registry
from inference.monitoring.drift import DriftMonitor
from inference.monitoring.metrics import Metrics, ModelMetrics
from inference.monitoring.rollout_metrics import RolloutMetrics
from inference.rollout.candidate import Rollout
from inference.serving.batching import Predictor, make_predictor
from inference.serving.swap import ModelHolder, Reloader, new_build_lock
from inference.settings import ModelSettings, Settings

# A model's state in /ready and POST /v2/repository/index, named as Triton and MLServer name
# them (triton-inference-server/server v2.71.0 docs/protocol/extension_model_repository.md;
# SeldonIO/MLServer 1.7.1 mlserver/types/model_repository.py, State).
READY = "READY"
LOADING = "LOADING"  # no version yet, no failure yet
UNAVAILABLE = "UNAVAILABLE"  # no version yet, the last attempt failed (retried with backoff)


@dataclass
class ModelSlot:
    spec: ModelSettings
    holder: ModelHolder
    metrics: ModelMetrics
    reloader: Reloader
    predictor: Predictor
    rollout: Rollout | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def loaded(self) -> bool:
        return self.holder.current is not None

    def index_item(self) -> dict[str, Any]:
        """{name, version, state, reason}: the repository index's entry for this model."""
        current = self.holder.current
        if current is not None:
            return {"name": self.name, "version": current.version, "state": READY, "reason": ""}
        error = self.holder.last_error
        return {
            "name": self.name,
            "state": UNAVAILABLE if error else LOADING,
            "reason": error or f"loading {self.spec.uri}",
        }


class ModelSet:
    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        registry_factory: Callable[[str], Registry],
    ) -> None:
        build_lock = new_build_lock()
        rollout_metrics = (
            RolloutMetrics(metrics.registry)
            if any(spec.rollout is not None for spec in settings.models)
            else None
        )
        self.slots: dict[str, ModelSlot] = {}
        for spec in settings.models:
            holder = ModelHolder()
            model_metrics = metrics.for_model(spec.name)
            predictor = make_predictor(
                model_metrics,
                settings.batch_enabled,
                settings.batch_max_rows,
                settings.batch_max_wait_seconds,
                settings.queue_max_requests,
            )
            rollout = None
            if spec.rollout is not None and rollout_metrics is not None:
                rollout = Rollout(
                    settings,
                    spec,
                    spec.rollout,
                    rollout_metrics.for_model(spec.name),
                    holder,
                    predictor,
                    registry_factory,
                    build_lock,
                    model_metrics,
                )
            reloader = Reloader(settings, spec, model_metrics, holder, registry_factory, build_lock)
            self.slots[spec.name] = ModelSlot(
                spec, holder, model_metrics, reloader, predictor, rollout
            )
        self.names = tuple(self.slots)
        # The one slot of a one-model service: /predict, /invocations and /model/info serve it.
        self.sole = next(iter(self.slots.values())) if len(self.slots) == 1 else None
        # Rows per feature bin and predicted class of every served version, each against its
        # own version's reference, exported with the rest.
        self.drift = DriftMonitor(
            settings.drift_enabled,
            settings.drift_max_features,
            settings.drift_max_bins,
            self.current_versions,
        )
        metrics.registry.register(self.drift)
        self._tasks: list[asyncio.Task[None]] = []

    def __iter__(self) -> Iterator[ModelSlot]:
        return iter(self.slots.values())

    def get(self, name: str) -> ModelSlot | None:
        return self.slots.get(name)

    def current_versions(self) -> tuple[ServedModel | None, ...]:
        return tuple(slot.holder.current for slot in self.slots.values())

    @property
    def ready(self) -> bool:
        """Every served model has a version loaded."""
        return all(slot.loaded for slot in self.slots.values())

    async def start(self) -> None:
        for slot in self:
            await slot.predictor.start()
            self._tasks.append(asyncio.create_task(slot.reloader.run(), name=f"reload {slot.name}"))
            if slot.rollout is not None:
                await slot.rollout.start()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for slot in self:
            if slot.rollout is not None:
                await slot.rollout.stop()
            await slot.predictor.stop()
