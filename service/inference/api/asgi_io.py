"""Plain ASGI for the prediction paths: a request header, the body within its size and time
limits, a JSON response; no framework objects in between.

Starlette's Request, its body stream and Response, and an `asyncio.timeout` around every read
cost more CPU than the model call of a one-row prediction. The limits stay the same: a declared
or received body beyond `MAX_BODY_BYTES` is a 413, a body not received within
`REQUEST_BODY_TIMEOUT_SECONDS` a 408 (uvicorn has no body read timeout: a client trickling
bytes would hold its connection and request slot forever). The time limit is kept by one timer
for all reads in progress (BodyDeadlines) instead of one per request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import Receive, Scope, Send

from inference.models.schema import FieldError, InputError

JSON = b"application/json"


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a request header; `name` in lower case (ASGI servers lower-case
    header names)."""
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def header_map(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name (the first value of each), for code that
    looks headers up by name (a rollout's routing key)."""
    found: dict[str, str] = {}
    for key, value in scope["headers"]:
        found.setdefault(key.decode("latin-1"), value.decode("latin-1"))
    return found


class ClientGone(Exception):
    """The client disconnected before its body arrived: there is no one to answer."""


class BodyDeadlines:
    """The body reads in progress and when each must end, checked by one timer.

    A read past its deadline is cancelled by the timer and becomes a 408. The timer runs only
    while reads are in progress, every `tick` seconds (a tenth of the timeout, at most half a
    second), so a read is cut at most that long after its deadline.
    """

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout = timeout_seconds
        self.tick = min(0.5, timeout_seconds / 10)
        self._reading: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def begin(self, task: asyncio.Task[Any]) -> None:
        loop = task.get_loop()
        self._reading[task] = loop.time() + self.timeout
        if self._timer is None:
            self._timer = loop.call_later(self.tick, self._check, loop)

    def end(self, task: asyncio.Task[Any]) -> None:
        self._reading.pop(task, None)

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """Whether the timer cancelled `task`'s read (and so the cancellation is a 408)."""
        if task not in self._expired:
            return False
        self._expired.discard(task)
        task.uncancel()
        return True

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for task, deadline in list(self._reading.items()):
            if deadline <= now:
                del self._reading[task]
                self._expired.add(task)
                task.cancel()
        self._timer = loop.call_later(self.tick, self._check, loop) if self._reading else None


async def read_body(
    scope: Scope, receive: Receive, max_bytes: int, deadlines: BodyDeadlines
) -> bytes:
    """The whole body of a JSON request, or the InputError (415, 413, 408) saying why not."""
    content_type = header(scope, b"content-type") or b""
    media_type = content_type.split(b";", 1)[0].strip().lower()
    if media_type != JSON:
        shown = media_type.decode("latin-1") or "none"
        raise InputError(
            [FieldError("content-type", f"got {shown!r}", "application/json")], status_code=415
        )
    too_big = FieldError("body", "request body too large", f"at most {max_bytes} bytes")
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise InputError([too_big], status_code=413)
    task = asyncio.current_task()
    assert task is not None
    deadlines.begin(task)
    try:
        message = await receive()
        body = message.get("body", b"")
        if message["type"] == "http.request" and not message.get("more_body", False):
            if len(body) > max_bytes:
                raise InputError([too_big], status_code=413)
            return body  # the usual request: the whole body in one message
        chunks, size = [body], len(body)
        while message["type"] == "http.request" and message.get("more_body", False):
            if size > max_bytes:
                raise InputError([too_big], status_code=413)
            message = await receive()
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
        if message["type"] != "http.request":
            raise ClientGone
        if size > max_bytes:
            raise InputError([too_big], status_code=413)
        return b"".join(chunks)
    except asyncio.CancelledError:
        if deadlines.expired(task):
            raise InputError(
                [
                    FieldError(
                        "body", "not received in time", f"within {deadlines.timeout:g} seconds"
                    )
                ],
                status_code=408,
            ) from None
        raise
    finally:
        deadlines.end(task)


async def send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """A complete response, with the headers Starlette's Response sends for JSON (after any
    others, as it puts them), then the body."""
    fields = [(b"content-length", b"%d" % len(body)), (b"content-type", JSON)]
    if headers:
        fields = headers + fields
    await send({"type": "http.response.start", "status": status, "headers": fields})
    await send({"type": "http.response.body", "body": body})
