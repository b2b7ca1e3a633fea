"""Model calls off the event loop, optionally coalescing concurrent requests into one call.

A scikit-learn predict has a large fixed cost per call, so one call for 16 waiting requests
costs about as much as one call for one. Requests only wait for company when the previous
batch had some (adaptive); an idle service answers without added delay. A model whose call
costs less than handing it to a thread (ServedModel.inline: an ONNX model) is called on the
event loop, never queued; with batching on, the calls of one event-loop turn for small
requests are one call (SameTurnCalls), which waits for no timer.

Each served model has its own predictor (its queue, its model thread, its metrics), so a batch
never mixes models and one model's queue filling up never refuses another model's requests.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from inference.models.model import Prediction, ServedModel
from inference.monitoring.metrics import ModelMetrics

# Requests of at most this many rows share an ONNX call with the others of their event-loop
# turn. The call's fixed cost is what sharing saves: measured here (iris, one thread), a call
# costs 8.9 us a row for 1 row and 0.45 for 16 (logistic regression), 7.4 and 1.4 (random
# forest); at 100 rows it is under 5 % of the call, and joining larger requests into calls of
# up to BATCH_MAX_ROWS rows cost the forest's 100-row requests 5 to 15 % more CPU instead.
SAME_TURN_MAX_ROWS = 16
# Waiting for company pays only while the wait is small next to the model call it saves:
# measured here, a 2 ms wait cut a RandomForest's (12 ms calls) CPU per request by ~40%, but
# cost a LogisticRegression (0.5 ms calls) a third of its throughput.
WAIT_SHARE_OF_CALL = 0.25


class Overloaded(Exception):
    """The queue is full: the client should retry later (503 + Retry-After)."""


class Predictor(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def predict(self, model: ServedModel, rows: list[list[Any]]) -> Prediction: ...


def inline(metrics: ModelMetrics, model: ServedModel, rows: list[list[Any]]) -> Prediction:
    """A call cheaper than a thread handoff (an ONNX model: microseconds), on the event loop.
    Coalescing would save nothing either: the per-call cost it shares is already gone."""
    started = time.perf_counter()
    result = model.predict(rows)
    metrics.prediction_duration.observe(time.perf_counter() - started)
    return result


@dataclass
class _Call:
    model: ServedModel
    rows: list[list[Any]]
    future: asyncio.Future[Prediction]


class SameTurnCalls:
    """The inline model calls of one event-loop turn, made as one call per version.

    Under load, requests arrive together: the event loop reads every ready connection in one
    turn, and each request becomes a task that runs up to its model call in the next. The
    first call of a turn schedules the combined call with `call_soon`, which runs after every
    task already ready to run, so each request of the turn joins it and none waits for a timer;
    a lone request waits one turn (microseconds). A one-row ONNX call's fixed cost (about 6 us
    of onnxruntime's own, more on a busy core's cold caches) is then paid once per turn instead
    of once per request.

    The combined rows go through one call; if it fails, each request is called alone, so a bad
    request fails only itself, with the error it would have had. What a row's answer may differ
    by: onnxruntime computes a matrix product for several rows with other kernels than for one,
    so a probability may differ in its last float32 bits (5e-7 at most measured on the iris
    logistic regression, none on the random forest on one thread); BATCH_ENABLED=false gives
    every request its own call.
    """

    def __init__(self, metrics: ModelMetrics, max_rows: int) -> None:
        self._metrics = metrics
        self._max_rows = max_rows
        self._waiting: list[_Call] = []

    async def predict(self, model: ServedModel, rows: list[list[Any]]) -> Prediction:
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._call_waiting)
        future: asyncio.Future[Prediction] = loop.create_future()
        self._waiting.append(_Call(model, rows, future))
        return await future

    def _call_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        group: list[_Call] = []
        rows = 0
        for call in waiting:
            if group and (
                call.model is not group[0].model or rows + len(call.rows) > self._max_rows
            ):
                self._call(group)
                group, rows = [], 0
            group.append(call)
            rows += len(call.rows)
        if group:
            self._call(group)

    def _call(self, group: list[_Call]) -> None:
        if len(group) == 1:
            self._call_alone(group[0])
            return
        rows = [row for call in group for row in call.rows]
        self._metrics.batch_rows.observe(len(rows))
        try:
            result = inline(self._metrics, group[0].model, rows)
        except Exception:
            for call in group:
                self._call_alone(call)
            return
        offset = 0
        for call in group:
            end = offset + len(call.rows)
            probabilities = result.probabilities[offset:end] if result.probabilities else None
            if not call.future.done():  # not cancelled meanwhile (client gone)
                call.future.set_result(Prediction(result.labels[offset:end], probabilities))
            offset = end

    def _call_alone(self, call: _Call) -> None:
        try:
            result = inline(self._metrics, call.model, call.rows)
        except Exception as exc:
            if not call.future.done():
                call.future.set_exception(exc)
        else:
            if not call.future.done():
                call.future.set_result(result)


class DirectPredictor:
    """One model call per request, on a worker thread; bounded like the batcher."""

    def __init__(self, metrics: ModelMetrics, max_pending: int) -> None:
        self._metrics = metrics
        self._max_pending = max_pending
        self._pending = 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def predict(self, model: ServedModel, rows: list[list[Any]]) -> Prediction:
        if model.inline:
            return inline(self._metrics, model, rows)
        if self._pending >= self._max_pending:
            self._metrics.queue_full.inc()
            raise Overloaded
        self._pending += 1
        try:
            started = time.perf_counter()
            result = await asyncio.to_thread(model.predict, rows)
            self._metrics.prediction_duration.observe(time.perf_counter() - started)
            return result
        finally:
            self._pending -= 1


@dataclass
class _Waiting:
    model: ServedModel
    rows: list[list[Any]]
    future: asyncio.Future[Prediction]
    enqueued: float


class BatchingPredictor:
    def __init__(
        self, metrics: ModelMetrics, max_rows: int, max_wait_seconds: float, max_pending: int
    ) -> None:
        self._metrics = metrics
        self._max_rows = max_rows
        self._max_wait = max_wait_seconds
        self._max_pending = max_pending
        self._queue: deque[_Waiting] = deque()
        self._arrived = asyncio.Event()
        # One model thread: calls are serial, the event loop keeps parsing the next requests.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self._worker: asyncio.Task[None] | None = None
        self._last_batch_requests = 1
        self._call_seconds = 0.0  # moving average of recent model calls
        self._same_turn = SameTurnCalls(metrics, max_rows)

    async def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        for waiting in self._queue:
            if not waiting.future.done():
                waiting.future.set_exception(Overloaded())
        self._queue.clear()
        self._executor.shutdown(wait=True)

    async def predict(self, model: ServedModel, rows: list[list[Any]]) -> Prediction:
        if model.inline:
            if len(rows) > SAME_TURN_MAX_ROWS:
                return inline(self._metrics, model, rows)
            return await self._same_turn.predict(model, rows)
        if len(self._queue) >= self._max_pending:
            self._metrics.queue_full.inc()
            raise Overloaded
        future: asyncio.Future[Prediction] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(model, rows, future, time.perf_counter()))
        self._arrived.set()
        return await future

    def _take(self) -> list[_Waiting]:
        """Queued requests for the same model version as the oldest, up to max rows."""
        first = self._queue.popleft()
        batch, rows = [first], len(first.rows)
        while self._queue and rows < self._max_rows:
            nxt = self._queue[0]
            if nxt.model is not first.model or rows + len(nxt.rows) > self._max_rows:
                break
            batch.append(self._queue.popleft())
            rows += len(nxt.rows)
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._arrived.clear()
                await self._arrived.wait()
                continue
            wait = min(self._max_wait, self._call_seconds * WAIT_SHARE_OF_CALL)
            if wait > 0 and self._last_batch_requests > 1:
                # Under concurrency, give the oldest request's peers up to `wait` to join.
                deadline = self._queue[0].enqueued + wait
                pending_rows = sum(len(w.rows) for w in self._queue)
                while (
                    pending_rows < self._max_rows and (delay := deadline - time.perf_counter()) > 0
                ):
                    self._arrived.clear()
                    try:
                        await asyncio.wait_for(self._arrived.wait(), delay)
                    except TimeoutError:
                        break
                    pending_rows = sum(len(w.rows) for w in self._queue)
            batch = self._take()
            self._last_batch_requests = len(batch)
            await self._call(loop, batch)

    async def _call(self, loop: asyncio.AbstractEventLoop, batch: list[_Waiting]) -> None:
        started = time.perf_counter()
        for waiting in batch:
            self._metrics.queue_wait.observe(started - waiting.enqueued)
        model = batch[0].model
        rows = [row for waiting in batch for row in waiting.rows]
        self._metrics.batch_rows.observe(len(rows))
        try:
            result = await loop.run_in_executor(self._executor, model.predict, rows)
        except Exception:
            # Isolate the failure: each request alone, so one bad request fails only itself.
            for waiting in batch:
                await self._call_alone(loop, waiting)
            return
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.prediction_duration.observe(elapsed)
            self._call_seconds = (
                elapsed if not self._call_seconds else 0.8 * self._call_seconds + 0.2 * elapsed
            )
        offset = 0
        for waiting in batch:
            end = offset + len(waiting.rows)
            probabilities = result.probabilities[offset:end] if result.probabilities else None
            if not waiting.future.done():
                waiting.future.set_result(Prediction(result.labels[offset:end], probabilities))
            offset = end

    async def _call_alone(self, loop: asyncio.AbstractEventLoop, waiting: _Waiting) -> None:
        try:
            result = await loop.run_in_executor(self._executor, waiting.model.predict, waiting.rows)
        except Exception as exc:
            if not waiting.future.done():
                waiting.future.set_exception(exc)
        else:
            if not waiting.future.done():
                waiting.future.set_result(result)


def make_predictor(
    metrics: ModelMetrics, enabled: bool, max_rows: int, max_wait_seconds: float, max_pending: int
) -> Predictor:
    if enabled:
        return BatchingPredictor(metrics, max_rows, max_wait_seconds, max_pending)
    return DirectPredictor(metrics, max_pending)
