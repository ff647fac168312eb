"""The HTTP client archiver uses for every request: httpx requests over guarded httpcore connections.

``build_client`` returns an ``HTTPClient`` that sends each GET to its transport
(``GuardedTransport``), whose connections (``pool.py``) are dialled through archiver's
network backend (``backend.py``), the one place that sees every TCP connection, redirect
hops included, and checks every address it dials (``guard.py``).  Only public APIs of
httpx and httpcore are used: a transport is any ``httpx.AsyncBaseTransport``, it is sent
``httpx.Request``s, and httpcore's connections take a network stream or backend.
"""

from __future__ import annotations

import os
import ssl
import zlib
from collections import Counter, OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import certifi
import httpcore
import httpx

from ..models import Exchange
from .backend import AsyncioBackend, GuardedBackend, Resolver
from .pool import KeepAlivePool, ProxiedPool

__all__ = [
    "Answer",
    "BodyTooLarge",
    "CookieJar",
    "GuardedTransport",
    "HTTPClient",
    "HostClients",
    "RequestFailed",
    "RequestTimedOut",
    "UnusableURL",
    "build_client",
    "get",
    "read_capped",
    "ssl_context",
]


class BodyTooLarge(Exception):
    """A response body is larger than archiver reads, or encoded in a way it cannot bound."""


class RequestTimedOut(Exception):
    """A request got no complete answer in time (its message: which phase)."""


class UnusableURL(Exception):
    """A URL no request can be made for (invalid, or not http/https)."""


class RequestFailed(Exception):
    """A request failed in the network or the protocol (connection refused, reset, garbage)."""


class Answer:
    """A response as it arrives: status and headers at once, the body read only with a bound."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status: int = response.status_code
        self.locations: list[str] = response.headers.get_list("location")

    def header(self, name: str, default: str = "") -> str:
        value: str = self._response.headers.get(name, default)
        return value

    @property
    def reason(self) -> str:
        """The status line's reason phrase (``OK``), as the server sent it."""
        return str(self._response.reason_phrase)

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """Every header of the answer, in order, as sent."""
        return tuple(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in self._response.headers.raw
        )

    @property
    def request_headers(self) -> tuple[tuple[str, str], ...]:
        """Every header of the request this answers, as archiver sent it."""
        return tuple(
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in self._response.request.headers.raw
        )

    def exchange(self, url: str, recorded_at: str, body: bytes, truncated: bool) -> Exchange:
        """Return this request and answer as a copy keeps them: ``body`` as read (``truncated``:
        cut at the copy's limit).  A copy may be handed on, so a credential sent with the
        request (``Authorization``) stays out of it."""
        request_headers = tuple((k, v) for k, v in self.request_headers if k.lower() != "authorization")
        return Exchange(
            url, recorded_at, request_headers, self.status, self.reason, self.headers, body, truncated
        )

    @property
    def charset(self) -> str | None:
        """The charset the Content-Type names, if any."""
        return self._response.charset_encoding

    async def read(
        self, cap: int, *, enough: Callable[[bytearray], bool] | None = None
    ) -> tuple[bytes, bool]:
        """Return up to ``cap`` decoded bytes of the body, and whether it was cut.

        ``enough``, given what was read so far, may end the reading sooner (a cut).
        """
        return await read_capped(self._response, cap, enough=enough)


@asynccontextmanager
async def get(
    client: HTTPClient,
    url: str,
    headers: dict[str, str] | None = None,
    *,
    method: str = "GET",
    content: bytes | None = None,
) -> AsyncIterator[Answer]:
    """Send a GET (or ``method``) and lend its answer while the body is read; errors as archiver's own."""
    try:
        async with client.stream(url, headers, method=method, content=content) as response:
            yield Answer(response)
    except httpx.TimeoutException as ex:
        raise RequestTimedOut(type(ex).__name__) from ex
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as ex:
        raise UnusableURL(str(ex)) from ex
    except httpx.TransportError as ex:
        raise RequestFailed(f"{type(ex).__name__}: {ex}") from ex


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport whose connections go through ``backend`` (the guard).

    Built from public parts only: connections are archiver's ``HTTP11Connection`` (h11
    over the backend's streams) kept by ``KeepAlivePool`` (``ProxiedPool`` with a
    proxy), and httpx takes any ``AsyncBaseTransport``.  It also keeps the cookies of
    a run (see ``CookieJar``).
    """

    def __init__(
        self,
        *,
        backend: httpcore.AsyncNetworkBackend,
        verify: ssl.SSLContext,
        max_connections: int,
        proxy: str | None,
    ) -> None:
        self._pool: ProxiedPool | KeepAlivePool = (
            ProxiedPool(proxy, backend=backend, ssl_context=verify, max_idle=max_connections)
            if proxy
            else KeepAlivePool(backend=backend, ssl_context=verify, max_idle=max_connections)
        )
        self.cookies = CookieJar()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.cookies.add_to(request)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            core_response = await self._pool.handle_async_request(core_request)
        response = httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_ResponseStream(core_response.stream),  # type: ignore[arg-type]
            extensions=core_response.extensions,
            request=request,
        )
        self.cookies.take_from(response)
        return response

    async def aclose(self) -> None:
        await self._pool.aclose()


class _ResponseStream(httpx.AsyncByteStream):
    """httpcore's body stream, its errors raised as httpx's."""

    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        closing = getattr(self._stream, "aclose", None)
        if closing is not None:
            with _httpx_errors():
                await closing()


# httpcore's errors and the httpx errors they stand for, most specific first.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _httpx_errors() -> Iterator[None]:
    """Raise httpcore's errors as the httpx errors they stand for, as httpx's transport does."""
    try:
        yield
    except Exception as ex:
        for core, mapped in _ERRORS:
            if isinstance(ex, core):
                raise mapped(str(ex)) from ex
        raise


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
) -> HTTPClient:
    """Return a client of the kind every archiver request goes through.

    Redirects are never followed for archiver (it records each hop itself), no
    environment proxy is used (a proxy inherited from cron would bypass the guard)
    and, with ``proxy``, the proxy resolves names, so only IP literals are checked here
    (see ``resolve``).  ``backend`` and ``verify`` let several clients share one guard
    and one TLS context.
    """
    if backend is None:
        backend = _backend(allow_private=allow_private, proxy=proxy, resolver=resolver, exempt=exempt)
    transport = GuardedTransport(
        backend=backend, verify=verify or ssl_context(), max_connections=max_connections, proxy=proxy
    )
    return HTTPClient(transport, timeout=timeout, user_agent=user_agent)


class HTTPClient:
    """Sends archiver's GET requests straight to its transport, one hop at a time.

    ``httpx.AsyncClient`` would add what archiver does not use and pays for on every
    request: redirect handling that parses each Location (and fails on a
    ``javascript:`` one), a cookie jar that parses every response, auth and event hooks.
    A transport is httpx's public interface for sending one request, and the request
    carries its timeouts as httpcore's documented ``timeout`` extension.
    """

    def __init__(self, transport: httpx.AsyncBaseTransport, *, timeout: float, user_agent: str) -> None:
        self._transport = transport
        self._timeouts = httpx.Timeout(timeout).as_dict()
        self._headers = {"User-Agent": user_agent, "Accept": "*/*", "Accept-Encoding": "gzip, deflate"}

    @asynccontextmanager
    async def stream(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        *,
        method: str = "GET",
        content: bytes | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """Send a GET (or ``method`` with ``content``) and lend its response while the body is read."""
        request = httpx.Request(
            method,
            url,
            headers=self._headers if headers is None else self._headers | headers,
            content=content,
            extensions={"timeout": self._timeouts},
        )
        response = await self._transport.handle_async_request(request)
        try:
            yield response
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()


# Cookies kept for one host in a run, and how many one response may set: a session
# needs a few; a host answering 3,000 Set-Cookie headers to each request made Cookie
# headers of over 1 MB and took minutes of CPU.
MAX_SET_COOKIES = 50
MAX_COOKIES = 100
MAX_COOKIE_BYTES = 16 * 1024


class CookieJar:
    """The cookies of one host's client for a run, kept by its transport.

    A chain that sets a cookie on one hop and needs it on the next (a consent or
    session redirect) works; a flood does not: an answer setting more than
    MAX_SET_COOKIES sets none, and a jar past MAX_COOKIES or MAX_COOKIE_BYTES is
    emptied.  Only responses that set a cookie are parsed.
    """

    def __init__(self) -> None:
        self.jar = httpx.Cookies()

    def add_to(self, request: httpx.Request) -> None:
        if len(self.jar.jar) and "cookie" not in request.headers:
            self.jar.set_cookie_header(request)

    def take_from(self, response: httpx.Response) -> None:
        if "set-cookie" not in response.headers:
            return
        count = len(response.headers.get_list("set-cookie"))
        if count <= MAX_SET_COOKIES:
            self.jar.extract_cookies(response)
            if (
                len(self.jar.jar) > MAX_COOKIES
                or sum(len(c.name) + len(c.value or "") for c in self.jar.jar) > MAX_COOKIE_BYTES
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

    A pool shared by thousands of hosts spends more CPU per request the more it holds
    (httpcore's looks through all its connections: encode/httpcore#1035); a pool per
    host stays as small as the per-host limit.
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
        self._clients: OrderedDict[str, HTTPClient] = OrderedDict()
        self._active: Counter[str] = Counter()
        self._keep = keep

    @asynccontextmanager
    async def client_for(self, host: str) -> AsyncIterator[HTTPClient]:
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

    @asynccontextmanager
    async def get(
        self,
        host: str,
        url: str,
        headers: dict[str, str] | None = None,
        *,
        method: str = "GET",
        content: bytes | None = None,
    ) -> AsyncIterator[Answer]:
        """Send a GET (or ``method``) for ``url`` with ``host``'s client and lend its answer."""
        async with (
            self.client_for(host) as client,
            get(client, url, headers, method=method, content=content) as answer,
        ):
            yield answer

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


# Bytes inflated at a time from a compressed body.
_INFLATE_STEP = 64 * 1024


async def read_capped(
    response: httpx.Response, cap: int, *, enough: Callable[[bytearray], bool] | None = None
) -> tuple[bytes, bool]:
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
                # A step at a time, so that ``enough`` can end the reading between steps.
                out += inflater.decompress(data, min(cap + 1 - len(out), _INFLATE_STEP))
            except zlib.error as ex:
                if codings[0] == "deflate" and not raw_deflate_tried and not out:
                    # Some servers send raw deflate without the zlib header.
                    raw_deflate_tried = True
                    inflater = zlib.decompressobj(wbits=-15)
                    continue
                raise BodyTooLarge(f"cannot decode body: {ex}") from ex
            data = inflater.unconsumed_tail
            if enough is not None and len(out) <= cap and enough(out):
                return bytes(out), True
        if len(out) > cap:
            return bytes(out[:cap]), True
        if enough is not None and enough(out):
            return bytes(out), True
    return bytes(out), False
