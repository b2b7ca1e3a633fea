"""uvicorn's HTTP protocol (httptools), with a response's head and body leaving in one write.

uvicorn writes the status line and headers when the app sends `http.response.start`, and the
body in a second write() when it sends `http.response.body` (encode/uvicorn 0.54.0,
uvicorn/protocols/http/httptools_impl.py, RequestResponseCycle.send): two system calls, two
TCP segments, for every small response. Measured on the service's hot path, the kernel's work
for those writes was about a quarter of a one-row prediction's CPU time.

Here the transport the protocol writes to holds a write until the next one or the end of the
event loop's turn, whichever comes first: a head followed by its body in the same turn (how
every response of this service is sent) leaves as one write(); a head whose body comes later
(a streamed response) leaves at the end of the turn, as it would have, one turn later at most.
Nothing else of uvicorn changes: parsing, keep-alive, flow control, limits and shutdown are
its own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CombinedWrites:
    """A transport that joins the writes of one event-loop turn into one write().

    Everything but write(), close() and abort() goes to the real transport.
    """

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._held = None
            self._transport.write(held + data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a transport that combines a turn's writes."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CombinedWrites(transport, self.loop))  # type: ignore[arg-type]
