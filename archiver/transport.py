"""The HTTP client archiver uses for every request, with the address guard built in.

The guard sits in httpcore's network backend, the one place that sees every TCP
connection httpx opens, redirect hops included.  It resolves the name itself,
checks every address, and dials the checked address, so a name that resolves to a
public address on one lookup and to 127.0.0.1 on the next (DNS rebinding) cannot
slip through.  TLS still verifies the certificate against the host name.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import zlib
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import certifi
import httpcore
import httpx

from .connections import AsyncioBackend
from .guard import address_verdict, literal_address

__all__ = [
    "BlockedAddress",
    "BodyTooLarge",
    "HostClients",
    "NameResolutionError",
    "Resolver",
    "build_client",
    "locations",
    "read_capped",
    "ssl_context",
]

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


class BodyTooLarge(Exception):
    """A response body is larger than archiver reads, or encoded in a way it cannot bound."""


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


class _AnyioWithoutForcedYields:
    """anyio as httpcore's locks and events see it, without a yield where nothing waits.

    httpcore (1.0) takes an anyio lock several times a request and waits on an anyio
    event its pool has usually set already.  anyio yields to the event loop on each
    of those even when nothing stands in the way, and with 64 requests in flight
    every such yield sends the request to the back of a long queue of ready
    callbacks: several milliseconds a request (4.2 task steps a request instead of
    1.2, measured at 64 in flight against 50 ms responses).  Here the
    locks are anyio's own with ``fast_acquire`` (anyio's documented option for
    this), and the event is asyncio's, which returns at once when already set.
    Waiting when there is something to wait for is unchanged.
    """

    Event = asyncio.Event

    @staticmethod
    def Lock() -> anyio.Lock:  # noqa: N802 - stands in for the class
        return anyio.Lock(fast_acquire=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(anyio, name)


def _tune_httpcore() -> None:
    """Give httpcore's locks and events anyio without forced yields (see above).

    Only where httpcore is laid out as archiver knows it (httpcore is pinned, and a
    test fails if this stops applying); otherwise httpcore is left as it is.
    """
    synchronization = getattr(httpcore, "_synchronization", None)
    if synchronization is not None and getattr(synchronization, "anyio", None) is anyio:
        synchronization.anyio = _AnyioWithoutForcedYields()


_tune_httpcore()


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool rebuilt on the guarded backend.

    httpx has no public way to choose the network backend, so the pool is replaced;
    httpx is pinned to 0.28.x and a test fails if the guard stops being used.
    """

    def __init__(
        self,
        *,
        backend: httpcore.AsyncNetworkBackend,
        verify: ssl.SSLContext,
        max_connections: int,
        proxy: str | None,
    ) -> None:
        super().__init__(verify=verify, trust_env=False)
        common: dict[str, Any] = {
            "ssl_context": verify,
            "max_connections": max_connections,
            "max_keepalive_connections": max_connections,
            "keepalive_expiry": 5.0,
            "retries": 0,
            "network_backend": backend,
        }
        if proxy:
            self._pool = httpcore.AsyncHTTPProxy(proxy_url=proxy, **common)
        else:
            self._pool = httpcore.AsyncConnectionPool(**common)


def ssl_context() -> ssl.SSLContext:
    """Return the TLS context: SSL_CERT_FILE / SSL_CERT_DIR when set, else certifi's bundle."""
    cafile = os.environ.get("SSL_CERT_FILE") or None
    capath = os.environ.get("SSL_CERT_DIR") or None
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    return ssl.create_default_context(cafile=certifi.where())


def build_client(
    *,
    timeout: float,
    max_connections: int,
    user_agent: str,
    allow_private: bool = False,
    proxy: str | None = None,
    resolver: Resolver | None = None,
    exempt: frozenset[tuple[str, int]] = frozenset(),
    backend: httpcore.AsyncNetworkBackend | None = None,
    verify: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """Return an AsyncClient of the kind every archiver request goes through.

    Redirects are not followed by httpx (archiver records each hop itself), the
    environment's proxy settings are ignored (a proxy inherited from cron would
    bypass the guard) and, with ``proxy``, the proxy resolves names, so only IP
    literals are checked here (see ``resolve``).  ``backend`` and ``verify`` let
    several clients share one guard and one TLS context.
    """
    if backend is None:
        backend = _backend(allow_private=allow_private, proxy=proxy, resolver=resolver, exempt=exempt)
    transport = _GuardedTransport(
        backend=backend, verify=verify or ssl_context(), max_connections=max_connections, proxy=proxy
    )
    client = httpx.AsyncClient(
        transport=transport,
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
        event_hooks={"response": [_take_location]},
    )
    client._cookies = _SetCookieOnly()  # httpx has no public way to choose the jar's class
    return client


# Cookies kept for one host in a run, and how many one response may set: a session
# needs a few; a host answering 3,000 Set-Cookie headers to each request made Cookie
# headers of over 1 MB and took minutes of CPU.
MAX_SET_COOKIES = 50
MAX_COOKIES = 100
MAX_COOKIE_BYTES = 16 * 1024


class _SetCookieOnly(httpx.Cookies):
    """A client's cookie jar that looks at a response only when it sets a cookie.

    Cookies are kept for the length of a run, so a chain that sets a cookie on one
    hop and asks for it on the next still resolves; but the standard library's
    cookie parsing costs as much as a tenth of the CPU time of a response, and
    almost no response in a redirect chain sets one.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" not in response.headers:
            return
        if len(response.headers.get_list("set-cookie")) > MAX_SET_COOKIES:
            return  # a flood, not a session: parsing it would cost seconds of CPU
        super().extract_cookies(response)
        if (
            len(self.jar) > MAX_COOKIES
            or sum(len(c.name) + len(c.value or "") for c in self.jar) > MAX_COOKIE_BYTES
        ):
            self.jar.clear()  # a host that keeps setting cookies gets none sent back


def _backend(
    *,
    allow_private: bool,
    proxy: str | None,
    resolver: Resolver | None,
    exempt: frozenset[tuple[str, int]],
) -> httpcore.AsyncNetworkBackend:
    if proxy:
        return AsyncioBackend()
    return GuardedBackend(allow_private=allow_private, resolver=resolver, exempt=exempt)


class HostClients:
    """One small client per host, instead of one large pool for every host.

    httpcore's pool looks through all its connections on every request, so one pool
    for thousands of hosts spends more CPU per request the more it holds
    (encode/httpcore#1035); a pool per host stays as small as the per-host limit.
    The least recently used idle clients are closed beyond ``keep``.
    """

    def __init__(
        self,
        *,
        per_host: int,
        timeout: float,
        user_agent: str,
        allow_private: bool = False,
        proxy: str | None = None,
        resolver: Resolver | None = None,
        exempt: frozenset[tuple[str, int]] = frozenset(),
        keep: int = 256,
    ) -> None:
        self._options: dict[str, Any] = {
            "timeout": timeout,
            "max_connections": per_host,
            "user_agent": user_agent,
            "proxy": proxy,
            "backend": _backend(allow_private=allow_private, proxy=proxy, resolver=resolver, exempt=exempt),
            "verify": ssl_context(),
        }
        self._clients: OrderedDict[str, httpx.AsyncClient] = OrderedDict()
        self._active: Counter[str] = Counter()
        self._keep = keep

    @asynccontextmanager
    async def client_for(self, host: str) -> AsyncIterator[httpx.AsyncClient]:
        """Lend the client for ``host`` for the length of one request."""
        client = self._clients.get(host)
        if client is None:
            client = self._clients[host] = build_client(**self._options)
        else:
            self._clients.move_to_end(host)
        self._active[host] += 1
        try:
            yield client
        finally:
            self._active[host] -= 1
            if not self._active[host]:
                del self._active[host]
            if len(self._clients) > self._keep:
                await self._prune()

    async def _prune(self) -> None:
        for host in list(self._clients):
            if len(self._clients) <= self._keep:
                return
            if host not in self._active:
                await self._clients.pop(host).aclose()

    async def aclose(self) -> None:
        """Close every client."""
        while self._clients:
            _, client = self._clients.popitem()
            await client.aclose()


async def _take_location(response: httpx.Response) -> None:
    """Move Location headers aside before httpx builds a redirect request from them.

    httpx parses the Location of every 3xx even when it will not follow it, and a
    ``javascript:`` or malformed value raises an exception that loses the response.
    """
    if "location" in response.headers:
        response.extensions["archiver_locations"] = response.headers.get_list("location")
        del response.headers["location"]


def locations(response: httpx.Response) -> list[str]:
    """Return the Location header values of a response taken aside by the client."""
    return list(response.extensions.get("archiver_locations", []))


async def read_capped(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
    """Return up to ``cap`` decoded bytes of a streamed body, and whether it was cut.

    Decoding is done here, bounded, rather than by httpx, which inflates each chunk
    completely: a 50 KB gzip bomb would otherwise arrive as one 50 MB chunk.  Bodies
    with stacked or unknown encodings (``gzip, gzip``, ``br``) raise BodyTooLarge.
    """
    codings = [
        c.strip().lower()
        for c in response.headers.get("content-encoding", "").split(",")
        if c.strip() and c.strip().lower() != "identity"
    ]
    if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
        raise BodyTooLarge(f"unsupported content-encoding {', '.join(codings)}")
    inflater = zlib.decompressobj(wbits=47) if codings else None  # 47: gzip or zlib header
    raw_deflate_tried = False
    out = bytearray()
    async for chunk in response.aiter_raw():
        data = chunk
        while data and len(out) <= cap:
            if inflater is None:
                out += data[: cap + 1 - len(out)]
                data = b""
                continue
            try:
                out += inflater.decompress(data, cap + 1 - len(out))
            except zlib.error as ex:
                if codings[0] == "deflate" and not raw_deflate_tried and not out:
                    # Some servers send raw deflate without the zlib header.
                    raw_deflate_tried = True
                    inflater = zlib.decompressobj(wbits=-15)
                    continue
                raise BodyTooLarge(f"cannot decode body: {ex}") from ex
            data = inflater.unconsumed_tail
        if len(out) > cap:
            return bytes(out[:cap]), True
    return bytes(out), False
