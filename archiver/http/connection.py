"""One HTTP/1.1 connection to one host: h11's state machine over a network stream.

h11 is the HTTP/1.1 protocol without I/O ("bring your own I/O" is its documented
use); this module is the I/O.  httpcore's ``AsyncHTTP11Connection`` does the same
work, but guards each request with locks built for connections shared between
tasks, and on asyncio those locks yield to the event loop even when free, several
times a request.  archiver's pools never share a connection: a connection is taken
out of the pool for one request and given back when its body is closed, so it needs
no lock, only a state.  Requests and responses are httpcore's public models, and
errors are httpcore's, so the transport treats both kinds of connection alike.
"""

from __future__ import annotations

import contextlib
import enum
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

import h11
import httpcore

__all__ = ["HTTP11Connection"]

READ_BYTES = 64 * 1024
# Largest status line and headers accepted, as httpcore's connection does.
MAX_HEAD_BYTES = 100 * 1024


class _State(enum.Enum):
    NEW = "new"
    ACTIVE = "active"
    IDLE = "idle"
    CLOSED = "closed"


class HTTP11Connection:
    """An HTTP/1.1 connection for one request at a time, kept alive between them."""

    def __init__(
        self, origin: httpcore.Origin, stream: httpcore.AsyncNetworkStream, *, keepalive_expiry: float
    ) -> None:
        self._origin = origin
        self._stream = stream
        self._keepalive_expiry = keepalive_expiry
        self._expire_at: float | None = None
        self._state = _State.NEW
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)

    async def send(
        self, request: httpcore.Request, on_close: Callable[[HTTP11Connection], Awaitable[None]]
    ) -> httpcore.Response:
        """Send ``request`` and return its response once the headers are in.

        The body is read from the response's stream; closing that stream calls
        ``on_close`` with this connection, idle again if the exchange ended cleanly.
        """
        if self._state not in (_State.NEW, _State.IDLE):
            raise httpcore.ConnectionNotAvailable()
        self._state = _State.ACTIVE
        self._expire_at = None
        timeouts = request.extensions.get("timeout", {})
        read_timeout = timeouts.get("read")
        try:
            # A server may close its side early and still answer, as a 413 or 400
            # often does: the answer is read before giving up.
            with contextlib.suppress(httpcore.WriteError):
                await self._send_head_and_body(request, timeouts.get("write"))
            while True:
                event = await self._next_event(read_timeout)
                if isinstance(event, h11.Response):
                    break
                # 1xx answers other than the final one are skipped.
        except BaseException:
            await self.aclose()
            raise
        return httpcore.Response(
            status=event.status_code,
            headers=event.headers.raw_items(),
            content=_Body(self, read_timeout, on_close),
            extensions={
                "http_version": b"HTTP/" + event.http_version,
                "reason_phrase": event.reason,
                "network_stream": self._stream,
            },
        )

    async def _send_head_and_body(self, request: httpcore.Request, timeout: float | None) -> None:
        try:
            head = h11.Request(method=request.method, target=request.url.target, headers=request.headers)
        except h11.LocalProtocolError as ex:
            raise httpcore.LocalProtocolError(str(ex)) from ex
        await self._write(head, timeout)
        assert isinstance(request.stream, AsyncIterable)
        async for chunk in request.stream:
            await self._write(h11.Data(data=chunk), timeout)
        await self._write(h11.EndOfMessage(), timeout)

    async def _write(self, event: h11.Event, timeout: float | None) -> None:
        try:
            data = self._h11.send(event)
        except h11.LocalProtocolError as ex:
            raise httpcore.LocalProtocolError(str(ex)) from ex
        if data:
            await self._stream.write(data, timeout=timeout)

    async def _next_event(self, timeout: float | None) -> h11.Event | type[h11.PAUSED]:
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as ex:
                raise httpcore.RemoteProtocolError(str(ex)) from ex
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            data = await self._stream.read(READ_BYTES, timeout=timeout)
            if not data and self._h11.their_state == h11.SEND_RESPONSE:
                raise httpcore.RemoteProtocolError("Server disconnected without sending a response.")
            try:
                self._h11.receive_data(data)
            except h11.RemoteProtocolError as ex:
                raise httpcore.RemoteProtocolError(str(ex)) from ex

    async def body(self, timeout: float | None) -> AsyncIterator[bytes]:
        """Yield the response body's bytes until its end."""
        while True:
            event = await self._next_event(timeout)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage) or event is h11.PAUSED:
                return

    async def finish(self) -> None:
        """End the exchange: idle again if both sides are done, closed otherwise."""
        if self._state is _State.CLOSED:
            return
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE and not self._overran():
            self._h11.start_next_cycle()
            self._state = _State.IDLE
            self._expire_at = time.monotonic() + self._keepalive_expiry
        else:
            await self.aclose()

    def _overran(self) -> bool:
        """Whether anything at all follows the response: bytes h11 holds past its end (a
        body on a 204 or 304, more than Content-Length), bytes waiting on the socket, or
        the server's close.  Such bytes would be read as the answer to the next request
        on this connection, so it is not reused."""
        trailing, closed = self._h11.trailing_data
        return bool(trailing) or closed or bool(self._stream.get_extra_info("is_readable"))

    async def aclose(self) -> None:
        self._state = _State.CLOSED
        await self._stream.aclose()

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return origin == self._origin

    def is_idle(self) -> bool:
        return self._state is _State.IDLE

    def is_closed(self) -> bool:
        return self._state is _State.CLOSED

    def has_expired(self) -> bool:
        """Whether an idle connection is past its keep-alive time or closed by the server.

        An idle connection with something to read has been closed by the server (or
        sent what it should not have): either way it is not reused.
        """
        if self._expire_at is not None and time.monotonic() > self._expire_at:
            return True
        return self._state is _State.IDLE and bool(self._stream.get_extra_info("is_readable"))


class _Body:
    """A response body; closing it ends the exchange and hands the connection back."""

    def __init__(
        self,
        connection: HTTP11Connection,
        timeout: float | None,
        on_close: Callable[[HTTP11Connection], Awaitable[None]],
    ) -> None:
        self._connection = connection
        self._timeout = timeout
        self._on_close = on_close
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._connection.body(self._timeout):
                yield chunk
        except BaseException:
            await self._connection.aclose()
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._connection.finish()
        finally:
            await self._on_close(self._connection)
