"""Keep-alive HTTP/1.1 connections for one host's client.

httpcore's ``AsyncConnectionPool`` serves thousands of origins and waits on an event for
every request; archiver's clients each serve one host, with at most ``per_host``
requests in flight (the resolver's limiter sees to that).  This pool keeps the idle
connections of that host and hands one out, or dials a new one through the network
backend (the guard) as an ``HTTP11Connection``.
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import httpcore

from .connection import HTTP11Connection

__all__ = ["KeepAlivePool", "ProxiedPool"]


class KeepAlivePool:
    """Idle connections to one host kept for reuse (``max_idle`` at most), new ones dialled."""

    def __init__(
        self,
        *,
        backend: httpcore.AsyncNetworkBackend,
        ssl_context: ssl.SSLContext,
        max_idle: int,
        keepalive_expiry: float = 5.0,
    ) -> None:
        self._backend = backend
        self._ssl = ssl_context
        self._ssl.set_alpn_protocols(["http/1.1"])
        self._max_idle = max_idle
        self._expiry = keepalive_expiry
        self._idle: list[HTTP11Connection] = []

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        origin = request.url.origin
        connection = await self._reusable(origin)
        if connection is None:
            connection = await self._dial(request)
        return await connection.send(request, self.release)

    async def _reusable(self, origin: httpcore.Origin) -> HTTP11Connection | None:
        for connection in reversed(self._idle):
            if connection.can_handle_request(origin) and connection.is_idle():
                self._idle.remove(connection)
                if not connection.has_expired():
                    return connection
                await connection.aclose()  # closed by the server, or idle too long
        return None

    async def _dial(self, request: httpcore.Request) -> HTTP11Connection:
        origin = request.url.origin
        host = origin.host.decode("ascii")
        timeouts = request.extensions.get("timeout", {})
        stream = await self._backend.connect_tcp(host, origin.port, timeout=timeouts.get("connect"))
        if origin.scheme == b"https":
            try:
                stream = await stream.start_tls(
                    self._ssl, server_hostname=host, timeout=timeouts.get("connect")
                )
            except BaseException:
                await stream.aclose()
                raise
        return HTTP11Connection(origin, stream, keepalive_expiry=self._expiry)

    async def release(self, connection: HTTP11Connection) -> None:
        """Keep a connection whose response was read to the end; close any other."""
        self._idle = [c for c in self._idle if not c.is_closed()]
        if connection.is_idle() and len(self._idle) < self._max_idle:
            self._idle.append(connection)
        else:
            await connection.aclose()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.aclose()


class ProxiedPool:
    """Requests through a forward proxy: plain http ones on kept-alive connections to it.

    An http URL goes to the proxy in absolute form over ``KeepAlivePool`` connections;
    an https one needs a CONNECT tunnel and goes through httpcore's ``AsyncHTTPProxy``.
    """

    def __init__(
        self, proxy: str, *, backend: httpcore.AsyncNetworkBackend, ssl_context: ssl.SSLContext, max_idle: int
    ) -> None:
        parts = urlsplit(proxy)
        self._origin = (parts.scheme.encode("ascii"), (parts.hostname or "").encode("ascii"), parts.port)
        self._plain = KeepAlivePool(backend=backend, ssl_context=ssl_context, max_idle=max_idle)
        self._tunnels = httpcore.AsyncHTTPProxy(
            proxy_url=proxy,
            ssl_context=ssl_context,
            max_connections=max_idle,
            max_keepalive_connections=max_idle,
            keepalive_expiry=5.0,
            retries=0,
            network_backend=backend,
        )

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if request.url.scheme != b"http":
            return await self._tunnels.handle_async_request(request)
        scheme, host, port = self._origin
        forwarded = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=scheme, host=host, port=port, target=bytes(request.url)),
            headers=request.headers,
            content=request.stream,
            extensions=request.extensions,
        )
        return await self._plain.handle_async_request(forwarded)

    async def aclose(self) -> None:
        await self._plain.aclose()
        await self._tunnels.aclose()
