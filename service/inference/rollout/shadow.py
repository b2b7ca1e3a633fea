"""Shadow mode: the candidate scores the rows the stable version just answered, off the
response path, and the two are compared.

The response never waits for the candidate: rows are queued after the stable prediction,
and one worker runs the candidate on its own thread (inline for a model cheaper than a
thread handoff). A full queue drops the work and counts it; a candidate failure is counted,
never raised. Labels are compared row by row; the largest probability difference per row is
measured over the union of both versions' classes (a class one version lacks counts as 0).
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from inference.models.model import Prediction, ServedModel
from inference.monitoring.rollout_metrics import CANDIDATE, ModelRolloutMetrics

log = logging.getLogger("inference.shadow")


class ShadowRunner:
    def __init__(self, metrics: ModelRolloutMetrics, max_queue: int) -> None:
        self._metrics = metrics
        self._queue: asyncio.Queue[tuple[ServedModel, ServedModel, list[list[Any]], Prediction]]
        self._queue = asyncio.Queue(maxsize=max_queue)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="shadow")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def submit(
        self, stable: ServedModel, candidate: ServedModel, rows: list[list[Any]], answer: Prediction
    ) -> None:
        try:
            self._queue.put_nowait((stable, candidate, rows, answer))
        except asyncio.QueueFull:
            self._metrics.skipped(candidate)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            stable, candidate, rows, answer = await self._queue.get()
            started = time.perf_counter()
            try:
                if candidate.inline:
                    result = candidate.predict(rows)
                else:
                    result = await loop.run_in_executor(self._executor, candidate.predict, rows)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._metrics.failed(CANDIDATE, candidate)
                log.debug("candidate v%s failed in shadow: %s", candidate.version, exc)
                continue
            self._metrics.answered(CANDIDATE, candidate, result, time.perf_counter() - started)
            agree = sum(1 for a, b in zip(answer.labels, result.labels, strict=False) if a == b)
            self._metrics.compared(candidate, agree, len(rows) - agree)
            if answer.probabilities is not None and result.probabilities is not None:
                self._metrics.differences(
                    candidate,
                    largest_differences(stable.classes, answer, candidate.classes, result),
                )


def largest_differences(
    stable_classes: list[Any] | None,
    stable: Prediction,
    candidate_classes: list[Any] | None,
    candidate: Prediction,
) -> list[float]:
    """Per row, the largest |p_stable(c) - p_candidate(c)| over the classes of both."""
    if stable.probabilities is None or candidate.probabilities is None:
        return []
    if stable_classes == candidate_classes:
        return [
            max((abs(a - b) for a, b in zip(s, c, strict=False)), default=0.0)
            for s, c in zip(stable.probabilities, candidate.probabilities, strict=False)
        ]
    left = list(stable_classes or [])
    right = list(candidate_classes or [])
    every = left + [c for c in right if c not in left]
    out = []
    for s, c in zip(stable.probabilities, candidate.probabilities, strict=False):
        ps = dict(zip(left, s, strict=False))
        pc = dict(zip(right, c, strict=False))
        out.append(max(abs(ps.get(k, 0.0) - pc.get(k, 0.0)) for k in every))
    return out
