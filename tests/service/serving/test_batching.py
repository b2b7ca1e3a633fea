"""The batcher coalesces concurrent requests into one model call and isolates failures."""

import asyncio

import pytest

from inference.models.schema import Column, InputSchema
from inference.models.sklearn_model import SklearnModel
from inference.monitoring.metrics import Metrics
from inference.serving.batching import (
    SAME_TURN_MAX_ROWS,
    BatchingPredictor,
    DirectPredictor,
    Overloaded,
)
from tests.support.models import IRIS_COLUMNS, iris_logistic


class CountingModel(SklearnModel):
    """A real iris model that records each call's row count and can be told to fail."""

    calls: list[int]
    poison: float | None = None

    def predict(self, rows):  # type: ignore[no-untyped-def]
        self.calls.append(len(rows))
        if self.poison is not None and any(row[0] == self.poison for row in rows):
            raise ValueError("poisoned row")
        return super().predict(rows)


def make_model() -> CountingModel:
    estimator, features = iris_logistic()
    schema = InputSchema(tuple(Column(n, "double") for n in IRIS_COLUMNS))
    example = features.head(3).values.tolist()
    model = CountingModel("m", "1", None, schema, example, estimator=estimator)
    model.calls = []
    model.prepare()
    model.calls = []
    # These tests are about the queue: never the inline path, however fast this machine is.
    model.call_seconds = 1.0
    return model


ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


async def run_concurrently(predictor, model, requests):  # type: ignore[no-untyped-def]
    await predictor.start()
    try:
        return await asyncio.gather(
            *(predictor.predict(model, rows) for rows in requests), return_exceptions=True
        )
    finally:
        await predictor.stop()


def test_concurrent_requests_share_model_calls_and_get_their_own_answers() -> None:
    model = make_model()
    expected = {tuple(r): model.predict([r]).labels[0] for r in ROWS}
    model.calls.clear()
    requests = [[ROWS[i % 3]] for i in range(40)]
    predictor = BatchingPredictor(
        Metrics().for_model("m"), max_rows=64, max_wait_seconds=0.002, max_pending=100
    )
    results = asyncio.run(run_concurrently(predictor, model, requests))
    assert [r.labels[0] for r in results] == [expected[tuple(q[0])] for q in requests]
    assert sum(model.calls) == 40
    assert len(model.calls) < 40  # coalesced


def test_batch_is_bounded_by_max_rows() -> None:
    model = make_model()
    predictor = BatchingPredictor(
        Metrics().for_model("m"), max_rows=8, max_wait_seconds=0.0, max_pending=100
    )
    asyncio.run(run_concurrently(predictor, model, [[ROWS[0]]] * 30))
    assert max(model.calls) <= 8


def test_one_bad_request_fails_alone() -> None:
    model = make_model()
    model.poison = 9.9
    requests = [[ROWS[0]], [[9.9, 1.0, 1.0, 1.0]], [ROWS[1]], [ROWS[2]]]
    predictor = BatchingPredictor(
        Metrics().for_model("m"), max_rows=64, max_wait_seconds=0.01, max_pending=100
    )
    results = asyncio.run(run_concurrently(predictor, model, requests))
    assert isinstance(results[1], ValueError)
    assert [type(r).__name__ for i, r in enumerate(results) if i != 1] == ["Prediction"] * 3


def test_full_queue_rejects_instead_of_waiting() -> None:
    model = make_model()
    metrics = Metrics().for_model("m")
    predictor = BatchingPredictor(metrics, max_rows=1, max_wait_seconds=0.0, max_pending=5)
    results = asyncio.run(run_concurrently(predictor, model, [[ROWS[0]]] * 50))
    rejected = [r for r in results if isinstance(r, Overloaded)]
    assert rejected
    assert metrics.queue_full._value.get() == len(rejected)


@pytest.mark.parametrize("predictor_cls", [DirectPredictor])
def test_direct_predictor(predictor_cls: type) -> None:
    model = make_model()
    results = asyncio.run(
        run_concurrently(predictor_cls(Metrics().for_model("m"), 100), model, [[r] for r in ROWS])
    )
    assert len(model.calls) == 3
    assert all(len(r.labels) == 1 for r in results)


def inline_model() -> CountingModel:
    """A model cheaper than a thread handoff: called on the event loop."""
    model = make_model()
    model.call_seconds = 0.00001
    assert model.inline
    return model


def test_a_model_cheaper_than_a_thread_handoff_is_called_inline() -> None:
    model = inline_model()
    predictor = BatchingPredictor(
        Metrics().for_model("m"), max_rows=64, max_wait_seconds=0.002, max_pending=1
    )
    # max_pending=1 and six at once: queued, five would be refused; inline, none is, and the
    # six calls of one event-loop turn are one call.
    results = asyncio.run(run_concurrently(predictor, model, [[row] for row in ROWS * 2]))
    assert all(not isinstance(r, Exception) for r in results)
    assert model.calls == [6]


def test_inline_calls_of_one_turn_get_their_own_answers() -> None:
    model = inline_model()
    expected = [model.predict([row]) for row in ROWS * 3]
    model.calls.clear()
    predictor = BatchingPredictor(
        Metrics().for_model("m"), max_rows=64, max_wait_seconds=0.002, max_pending=1
    )
    requests = [[row] for row in ROWS * 2] + [ROWS]  # six one-row requests and a three-row one
    results = asyncio.run(run_concurrently(predictor, model, requests))
    assert model.calls == [9]
    assert [r.labels for r in results] == [e.labels for e in expected[:6]] + [
        [e.labels[0] for e in expected[6:]]
    ]
    assert [r.probabilities for r in results[:6]] == [e.probabilities for e in expected[:6]]


def test_a_lone_inline_call_is_made_alone() -> None:
    model = inline_model()

    async def one_then_another() -> None:
        predictor = BatchingPredictor(
            Metrics().for_model("m"), max_rows=64, max_wait_seconds=0.002, max_pending=1
        )
        await predictor.predict(model, [ROWS[0]])
        await predictor.predict(model, [ROWS[1]])

    asyncio.run(one_then_another())
    assert model.calls == [1, 1]


def test_inline_calls_of_one_turn_are_bounded_by_max_rows_and_split_by_version() -> None:
    model, other = inline_model(), inline_model()
    predictor = BatchingPredictor(
        Metrics().for_model("m"), max_rows=4, max_wait_seconds=0.0, max_pending=1
    )

    async def both() -> None:
        await asyncio.gather(
            *(predictor.predict(model, [ROWS[0]]) for _ in range(6)),
            predictor.predict(other, [ROWS[1]]),
            predictor.predict(model, [ROWS[2]]),
        )

    asyncio.run(both())
    # In arrival order: four rows, then two, then the other version's, then one more.
    assert model.calls == [4, 2, 1]
    assert other.calls == [1]


def test_a_bad_request_among_inline_calls_fails_alone() -> None:
    model = inline_model()
    model.poison = 9.9
    predictor = BatchingPredictor(
        Metrics().for_model("m"), max_rows=64, max_wait_seconds=0.0, max_pending=1
    )
    requests = [[ROWS[0]], [[9.9, 1.0, 1.0, 1.0]], [ROWS[1]]]
    results = asyncio.run(run_concurrently(predictor, model, requests))
    assert isinstance(results[1], ValueError)
    assert [type(r).__name__ for i, r in enumerate(results) if i != 1] == ["Prediction"] * 2
    # The combined call failed, then each was called alone.
    assert model.calls == [3, 1, 1, 1]


def test_a_large_inline_request_is_called_alone_at_once() -> None:
    """A request above SAME_TURN_MAX_ROWS has little fixed cost to share: its own call."""
    model = inline_model()
    predictor = BatchingPredictor(
        Metrics().for_model("m"), max_rows=1024, max_wait_seconds=0.0, max_pending=1
    )
    large = [ROWS[0]] * (SAME_TURN_MAX_ROWS + 1)
    requests = [[ROWS[1]], large, [ROWS[2]], large]
    results = asyncio.run(run_concurrently(predictor, model, requests))
    assert [len(r.labels) for r in results] == [
        1,
        SAME_TURN_MAX_ROWS + 1,
        1,
        SAME_TURN_MAX_ROWS + 1,
    ]
    # The two large ones as they came, the two small ones together at the end of the turn.
    assert model.calls == [SAME_TURN_MAX_ROWS + 1, SAME_TURN_MAX_ROWS + 1, 2]


def test_without_batching_every_inline_request_is_its_own_call() -> None:
    model = inline_model()
    predictor = DirectPredictor(Metrics().for_model("m"), 1)
    asyncio.run(run_concurrently(predictor, model, [[row] for row in ROWS * 2]))
    assert model.calls == [1] * 6
