"""TCP and TLS connections for httpcore: the address guard, on asyncio's transports.

``GuardedBackend`` resolves each name itself, checks every address with ``guard.py``
and dials the checked address, so a name that resolves to a public address on one
lookup and to 127.0.0.1 on the next (DNS rebinding) cannot slip through; TLS still
verifies the certificate against the host name.

httpcore's own asyncio support goes through anyio, whose socket streams build a
dictionary of attributes and enter a cancel scope on every read and write; at
hundreds of responses a second that is a large share of archiver's CPU time.
These streams do the same work with a plain asyncio protocol: incoming bytes
collect in a buffer, a read waits only when the buffer is empty, and a timer is
armed only while a read or write actually waits.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

import httpcore

from .guard import address_verdict, literal_address

__all__ = [
    "AsyncioBackend",
    "AsyncioStream",
    "BlockedAddress",
    "GuardedBackend",
    "NameResolutionError",
    "Resolver",
]

# Stop reading from the socket while this much is buffered and unread.
HIGH_WATER = 256 * 1024


class _StreamProtocol(asyncio.Protocol):
    """Buffers what the peer sends and wakes the reader or writer waiting on it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.reading_paused = False
        self._read_waiter: asyncio.Future[None] | None = None
        self._write_waiter: asyncio.Future[None] | None = None
        self._writing_paused = False

    # -- asyncio callbacks -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and self.transport is not None and not self.reading_paused:
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake_reader()
        self._writing_paused = False
        self._wake_writer()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake_writer()

    # -- used by the stream ----------------------------------------------------------

    async def wait_readable(self) -> None:
        loop = asyncio.get_running_loop()
        self._read_waiter = loop.create_future()
        try:
            await self._read_waiter
        finally:
            self._read_waiter = None

    async def wait_writable(self) -> None:
        if not self._writing_paused:
            return
        loop = asyncio.get_running_loop()
        self._write_waiter = loop.create_future()
        try:
            await self._write_waiter
        finally:
            self._write_waiter = None

    def _wake_reader(self) -> None:
        if self._read_waiter is not None and not self._read_waiter.done():
            self._read_waiter.set_result(None)

    def _wake_writer(self) -> None:
        if self._write_waiter is not None and not self._write_waiter.done():
            self._write_waiter.set_result(None)


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection, as httpcore reads and writes it."""

    def __init__(self, transport: asyncio.Transport, protocol: _StreamProtocol, *, tls: bool = False) -> None:
        self._transport = transport
        self._protocol = protocol
        self._tls = tls

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            try:
                async with asyncio.timeout(timeout):
                    await protocol.wait_readable()
            except TimeoutError as ex:
                raise httpcore.ReadTimeout("timed out waiting for the server") from ex
        if not protocol.buffer:
            if protocol.error is not None:
                raise httpcore.ReadError(str(protocol.error)) from protocol.error
            return b""
        data = bytes(protocol.buffer[:max_bytes])
        del protocol.buffer[:max_bytes]
        if protocol.reading_paused and len(protocol.buffer) <= HIGH_WATER // 4:
            protocol.reading_paused = False
            self._transport.resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._transport.is_closing():
            error = self._protocol.error
            raise httpcore.WriteError(str(error) if error else "the connection is closed") from error
        self._transport.write(buffer)
        try:
            async with asyncio.timeout(timeout):
                await self._protocol.wait_writable()
        except TimeoutError as ex:
            raise httpcore.WriteTimeout("timed out sending to the server") from ex

    async def aclose(self) -> None:
        if self._tls:
            # No close_notify exchange (httpx over anyio does not wait for one either):
            # a graceful TLS shutdown needs the event loop for a round trip more, and
            # at the end of a run the loop is gone before it completes.
            self._transport.abort()
        else:
            self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport, self._protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError as ex:
            self._transport.abort()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from ex
        except (OSError, ssl.SSLError, ssl.CertificateError) as ex:
            self._transport.abort()
            raise httpcore.ConnectError(str(ex)) from ex
        if transport is None:  # the connection closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._protocol.transport = transport
        return AsyncioStream(transport, self._protocol, tls=True)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        if info == "is_readable":
            # An idle connection with something to read has been closed by the
            # server (or sent what it should not have): either way, not reusable.
            return bool(self._protocol.buffer) or self._protocol.eof
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens AsyncioStream connections."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _StreamProtocol,
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                )
        except TimeoutError as ex:
            raise httpcore.ConnectTimeout(f"connecting to {host}:{port} timed out") from ex
        except OSError as ex:
            raise httpcore.ConnectError(str(ex)) from ex
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# -- the guard -------------------------------------------------------------------------

Resolver = Callable[[str, int], Awaitable[list[str]]]


class BlockedAddress(Exception):
    """A connection was refused because the address is not public.

    Deliberately not an httpcore error: httpx passes unknown exceptions through
    unchanged, so the reason reaches the resolver intact.
    """

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host}: {reason}")
        self.host = host
        self.reason = reason


class NameResolutionError(httpcore.ConnectError):
    """The host name could not be resolved."""


async def _system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """A network backend that connects only to public addresses (unless allowed otherwise)."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        resolver: Resolver | None = None,
        exempt: frozenset[tuple[str, int]] = frozenset(),
    ) -> None:
        self._inner = AsyncioBackend()
        self._allow_private = allow_private
        self._resolve = resolver or _system_resolver
        self._exempt = exempt

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                literal = literal_address(host)
                addresses = [str(literal)] if literal is not None else await self._resolve(host, port)
        except TimeoutError as ex:
            raise httpcore.ConnectTimeout(f"DNS lookup of {host} timed out") from ex
        except (OSError, UnicodeError) as ex:
            raise NameResolutionError(f"cannot resolve {host}: {ex}") from ex
        if not addresses:
            raise NameResolutionError(f"cannot resolve {host}: no address")
        if not self._allow_private:
            # Strict: one refused address refuses the name, so the outcome never
            # depends on which record the resolver happened to list first.
            for address in addresses:
                reason = None if (address, port) in self._exempt else address_verdict(address)
                if reason:
                    raise BlockedAddress(host, reason)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as ex:
                last_error = ex
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress(path, "unix sockets are never used")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
