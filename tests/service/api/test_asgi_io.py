"""inference.api.asgi_io: the body of a prediction request within its size and time limits,
read from ASGI messages; and inference.api.one_write: a response in one write()."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from inference.api.asgi_io import BodyDeadlines, ClientGone, read_body, send_json
from inference.api.one_write import CombinedWrites
from inference.models.schema import InputError

JSON = [(b"content-type", b"application/json")]


def scope(headers: list[tuple[bytes, bytes]] = JSON) -> dict[str, Any]:
    return {"type": "http", "headers": headers}


def messages(*parts: bytes, then_wait: bool = False) -> Callable[[], Awaitable[dict[str, Any]]]:
    """receive(): the parts as http.request messages, then a disconnect (after 5 s when
    `then_wait`: a client that stalls)."""
    queue = list(parts)

    async def receive() -> dict[str, Any]:
        if queue:
            body = queue.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(queue) or then_wait}
        if then_wait:
            await asyncio.sleep(5)  # then gone: a read the timer failed to cut fails the test
        return {"type": "http.disconnect"}

    return receive


def read(receive: Any, headers: list[tuple[bytes, bytes]] = JSON, timeout: float = 5.0) -> bytes:
    async def go() -> bytes:
        return await read_body(scope(headers), receive, 100, BodyDeadlines(timeout))

    return asyncio.run(go())


def refusal(receive: Any, headers: list[tuple[bytes, bytes]] = JSON, timeout: float = 5.0) -> Any:
    with pytest.raises(InputError) as refused:
        read(receive, headers, timeout)
    (error,) = refused.value.errors
    return refused.value.status_code, error.field, error.message


def test_a_body_in_one_message_or_in_pieces_is_read_whole() -> None:
    assert read(messages(b'{"a": 1}')) == b'{"a": 1}'
    assert read(messages(b'{"a"', b": ", b"1}")) == b'{"a": 1}'


def test_the_media_type_must_be_json() -> None:
    assert refusal(messages(b"{}"), [(b"content-type", b"text/plain")]) == (
        415,
        "content-type",
        "got 'text/plain'",
    )
    assert refusal(messages(b"{}"), [])[:2] == (415, "content-type")
    # Parameters and case are fine, as before.
    assert read(messages(b"{}"), [(b"content-type", b"Application/JSON; charset=utf-8")]) == b"{}"


def test_a_body_beyond_the_limit_is_a_413_declared_or_received() -> None:
    declared = [*JSON, (b"content-length", b"101")]
    assert refusal(messages(b"{}"), declared)[0] == 413
    assert refusal(messages(b"x" * 101))[0] == 413
    assert refusal(messages(b"x" * 60, b"x" * 60))[0] == 413
    assert read(messages(b"x" * 50, b"x" * 50)) == b"x" * 100


def test_a_body_not_received_in_time_is_a_408() -> None:
    """One timer for every read in progress cuts the read, and only the read."""
    assert refusal(messages(b"{", then_wait=True), timeout=0.2) == (
        408,
        "body",
        "not received in time",
    )


def test_a_cancellation_that_is_not_the_deadline_stays_a_cancellation() -> None:
    async def go() -> None:
        deadlines = BodyDeadlines(30)
        task = asyncio.create_task(
            read_body(scope(), messages(b"{", then_wait=True), 100, deadlines)
        )
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not deadlines._reading  # the read left the timer's list

    asyncio.run(go())


def test_a_client_gone_before_its_body_is_no_request() -> None:
    sent = [
        {"type": "http.request", "body": b"{", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return sent.pop(0)

    with pytest.raises(ClientGone):
        read(receive)
    with pytest.raises(ClientGone):
        read(messages())  # gone before the first piece


def test_the_response_carries_length_type_and_the_extra_headers() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(send_json(send, 503, b'{"e":1}', [(b"retry-after", b"1")]))
    start, body = sent
    assert start["status"] == 503
    assert start["headers"] == [
        (b"retry-after", b"1"),
        (b"content-length", b"7"),
        (b"content-type", b"application/json"),
    ]
    assert body == {"type": "http.response.body", "body": b'{"e":1}'}


class Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info {name}"


def test_a_head_and_its_body_in_one_turn_leave_in_one_write() -> None:
    async def go() -> Transport:
        transport = Transport()
        combined = CombinedWrites(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
        combined.write(b"HTTP/1.1 200 OK\r\n\r\n")
        combined.write(b"{}")
        assert transport.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}"]
        combined.write(b"HTTP/1.1 200 OK\r\n\r\n")  # a head whose body comes later
        assert len(transport.writes) == 1
        await asyncio.sleep(0)  # the end of the turn
        assert transport.writes[1] == b"HTTP/1.1 200 OK\r\n\r\n"
        assert combined.get_extra_info("peername") == "info peername"
        return transport

    assert len(asyncio.run(go()).writes) == 2


def test_close_sends_what_is_held_and_abort_drops_it() -> None:
    async def go() -> tuple[Transport, Transport]:
        loop = asyncio.get_running_loop()
        closed, aborted = Transport(), Transport()
        first = CombinedWrites(closed, loop)  # type: ignore[arg-type]
        first.write(b"head")
        first.close()
        second = CombinedWrites(aborted, loop)  # type: ignore[arg-type]
        second.write(b"head")
        second.abort()
        await asyncio.sleep(0)
        return closed, aborted

    closed, aborted = asyncio.run(go())
    assert (closed.writes, closed.closed) == ([b"head"], True)
    assert (aborted.writes, aborted.closed) == ([], True)


@pytest.mark.parametrize(
    ("labels", "probabilities", "finite"),
    [
        ([0], [[0.9, 0.1]], True),
        (["a"], None, True),
        ([0], [[float("nan"), 0.1]], False),
        ([0], [[1e308, 1e308]], True),  # a sum that overflows is checked value by value
        ([0.5, float("inf")], None, False),
    ],
)
def test_an_answer_with_nan_or_infinity_is_not_sent(
    labels: list[Any], probabilities: Any, finite: bool
) -> None:
    """orjson would write NaN as null; the answer is refused as json.dumps refused it."""
    from inference.api.prediction import _answer_is_finite
    from inference.models.model import Prediction

    assert _answer_is_finite(Prediction(labels, probabilities)) is finite
