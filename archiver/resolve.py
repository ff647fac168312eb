"""Resolving links: every redirect hop, politely, safely, with retries.

``resolve_many`` takes URLs and yields a ``Resolution`` for each as it completes.
Redirects are followed by hand, one request at a time, so that every hop is
recorded: Location (all of 301/302/303/307/308, relative or absolute), the Refresh
header, ``<meta http-equiv="refresh">`` and the one-line JavaScript redirects that
shorteners serve.  A failed link comes back as data, never as an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import ssl
import time
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from . import __version__
from .clock import utc_now
from .guard import WEB_PORTS, address_verdict, literal_address
from .htmlredirect import find_js_redirect, find_meta_refresh, find_title, parse_refresh
from .models import Hop, Resolution, SourceUnavailable
from .transport import (
    BlockedAddress,
    BodyTooLarge,
    HostClients,
    NameResolutionError,
    Resolver,
    build_client,
    locations,
    read_capped,
)
from .urls import hostname, is_shortener, normalise_url
from .wrappers import unwrap

__all__ = [
    "DEFAULT_USER_AGENT",
    "Fetched",
    "ResolverSettings",
    "fetch_source",
    "parse_retry_after",
    "resolve_many",
]

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = f"archiver/{__version__} (link archiver; resolves links found in posts)"

# Answers worth another try: the server is overloaded or asks us to slow down.
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
# Enough of a page to find a meta refresh, a JavaScript redirect and the title.
BODY_CAP = 64 * 1024
# How much memory the finished answers kept to spare repeated requests within a run
# may take, counted as the characters they hold plus a fixed cost each.
ANSWERS_BYTES = 16 * 1024 * 1024
ANSWER_OVERHEAD = 600
# A redirect's body is read (and so its connection kept) only when it is this short.
REDIRECT_BODY_CAP = 16 * 1024
# A JavaScript redirect is followed only on a page this small (or from a known
# shortener): on a real article, "location.href=" is usually some click handler.
JS_REDIRECT_MAX_BODY = 4096

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ResolverSettings:
    """How links are resolved; the CLI's resolver options."""

    concurrency: int = 20  # requests in flight overall
    per_host: int = 2  # requests in flight to one host
    timeout: float = 15.0  # seconds for one request, body included
    max_hops: int = 10  # redirects followed per link
    attempts: int = 3  # tries of one request on transient failures
    max_retry_after: float = 120.0  # longer Retry-After: give up for this run
    # When the run must stop (--time-limit), as a time.monotonic() value: a host that
    # asks to wait past it is left for the next run at once.
    deadline: float | None = None
    allow_private: bool = False
    # (address, port) pairs the guard lets through while refusing the rest of the
    # private ranges: one intranet service, or a test server on 127.0.0.1.
    exempt: frozenset[tuple[str, int]] = frozenset()
    ports: frozenset[int] = WEB_PORTS  # the ports a URL may name (exempt pairs' ports too)
    proxy: str | None = None
    user_agent: str = DEFAULT_USER_AGENT

    def client_options(self, resolver: Resolver | None = None) -> dict[str, Any]:
        """Return the settings every HTTP client of a run is built with."""
        return {
            "timeout": self.timeout,
            "user_agent": self.user_agent,
            "allow_private": self.allow_private,
            "proxy": self.proxy,
            "resolver": resolver,
            "exempt": self.exempt,
        }

    def refusal(self, url: str) -> str | None:
        """Return why a URL may not be requested before any connection, or None.

        Refused: a host written as an IP literal of an internal address, and a port
        outside ``ports``.  Names are checked once resolved, by the transport.
        """
        if self.allow_private:
            return None
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
        except ValueError:
            return "not a valid URL"
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return "not a valid port"
        literal = literal_address(host)
        if literal is not None and (str(literal), port) in self.exempt:
            return None
        verdict = address_verdict(literal) if literal is not None else None
        if verdict is None and port not in self.ports and all(port != p for _, p in self.exempt):
            listed = ", ".join(str(p) for p in sorted(self.ports))
            return f"port {port} is not a web port ({listed}; --allow-port adds one)"
        return verdict


# -- failures that end a hop -----------------------------------------------------


class _HopFailed(Exception):
    def __init__(self, status: str, error: str, *, http_status: int | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.http_status = http_status
        self.retry_after: float | None = None

    def copy(self) -> _HopFailed:
        """Return the same failure without a traceback, context or cause."""
        fresh = _HopFailed(self.status, self.error, http_status=self.http_status)
        fresh.retry_after = self.retry_after
        return fresh


class _Transient(Exception):
    """A response or error worth another attempt."""

    def __init__(
        self, error: str, *, status: str, http_status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(error)
        self.status = status
        self.http_status = http_status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class _Response:
    status_code: int
    next_url: str | None  # raw target, not yet joined
    via: str | None
    title: str | None


# The longest wait a server may ask for: a week.  Retry-After: 999999999999 is clamped to
# it, so no date computed from it overflows.
MAX_SERVER_WAIT = 7 * 86400.0


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Return the seconds a Retry-After value asks for (delay-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to str.isdigit, not to HTTP
        return min(float(value), MAX_SERVER_WAIT)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return min(max(0.0, when.timestamp() - current), MAX_SERVER_WAIT)


# -- politeness ------------------------------------------------------------------


class HostLimiter:
    """At most ``per_host`` requests in flight to a host, and a host's request to wait is kept."""

    def __init__(self, per_host: int, *, sleep: Sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_host = per_host
        self._sleep = sleep
        self._clock = clock
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._resume_at: dict[str, float] = {}
        self._deferred: dict[str, float] = {}
        self._asked: dict[str, float] = {}  # seconds of Retry-After each host asked for, in all

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of the host's request slots, after any wait the host asked for."""
        semaphore = self._slots.get(host)
        if semaphore is None:
            semaphore = self._slots[host] = asyncio.Semaphore(self._per_host)
        async with semaphore:
            # Checked once the slot is held, so a request queued behind the one that
            # got a 429 also waits (or gives up) as the host asked.
            if host in self._deferred:
                raise _HopFailed(
                    "http_error",
                    f"{host} asked to wait {self._deferred[host]:.0f} s (Retry-After); left for a later run",
                )
            wait = self._resume_at.get(host, 0.0) - self._clock()
            if wait > 0:
                await self._sleep(wait)
            yield

    def pause(self, host: str, seconds: float) -> None:
        """Send no request to ``host`` for ``seconds``."""
        self._asked[host] = self._asked.get(host, 0.0) + seconds
        self._resume_at[host] = max(self._resume_at.get(host, 0.0), self._clock() + seconds)

    def asked(self, host: str) -> float:
        """Return the seconds ``host`` has asked this run to wait, in all."""
        return self._asked.get(host, 0.0)

    def defer(self, host: str, seconds: float) -> None:
        """Send no more requests to ``host`` in this run."""
        self._deferred[host] = seconds


# -- answers kept within a run ---------------------------------------------------------


class AnswerCache:
    """The answers of one run by URL, the oldest finished ones dropped past a byte budget.

    An entry's cost is the text it holds (URL, next URL, title, error) plus a fixed
    overhead, so a run of failing links, or of answers with long Location headers,
    takes bounded memory whatever the number of links.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._entries: OrderedDict[str, asyncio.Future[_Response]] = OrderedDict()
        self._costs: OrderedDict[str, int] = OrderedDict()  # finished ones, oldest first

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> asyncio.Future[_Response] | None:
        return self._entries.get(key)

    def reserve(self, key: str) -> asyncio.Future[_Response]:
        """Return a new unfinished answer for ``key``; others asking for it wait on it."""
        pending: asyncio.Future[_Response] = asyncio.get_running_loop().create_future()
        self._entries[key] = pending
        return pending

    def settled(self, key: str) -> None:
        """Count a finished answer, then drop the oldest finished ones past the budget."""
        pending = self._entries.get(key)
        if pending is None or key in self._costs:
            return
        cost = ANSWER_OVERHEAD + len(key) + _answer_text_length(pending)
        self._costs[key] = cost
        self.used += cost
        while self.used > self.budget and self._costs:
            self.forget(next(iter(self._costs)))

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)
        self.used -= self._costs.pop(key, 0)


def _answer_text_length(answer: asyncio.Future[_Response]) -> int:
    failure = answer.exception()
    if isinstance(failure, _HopFailed):
        return len(failure.error)
    if failure is not None:
        return len(str(failure))
    response = answer.result()
    return len(response.next_url or "") + len(response.via or "") + len(response.title or "")


# -- one link ------------------------------------------------------------------------


@dataclass
class _Session:
    clients: HostClients
    settings: ResolverSettings
    limiter: HostLimiter
    sleep: Sleep
    now: Callable[[], str]
    # Each distinct URL is requested once per run: links that share a hop (two
    # t.co links to one article) reuse the first answer.
    answers: AnswerCache = field(default_factory=lambda: AnswerCache(ANSWERS_BYTES))

    async def resolve_url(self, url: str, start: str | None = None) -> Resolution:
        """Return the resolution of one link; never raises for a failed link.

        ``start`` is an expansion the source itself recorded (a Twitter archive's
        expanded_url): the chain starts there, after a first hop with ``via``
        'expanded', and the shortener itself is not asked.  A known wrapper with its
        target in the URL (``wrappers.unwrap``) is a hop with ``via`` 'unwrapped',
        not requested either; its target is requested like any other hop.
        """
        checked_at = self.now()
        hops: list[Hop] = []
        seen: set[str] = set()
        current = url
        if start and start != url:
            hops.append(Hop(url, None, "expanded"))
            seen.add(_loop_key(url))
            current = start
        while True:
            seen.add(_loop_key(current))
            inner = unwrap(current)
            if inner is not None:
                # A wrapper with its target in the URL: followed without a request.
                hops.append(Hop(current, None, "unwrapped"))
                end = self._end_of_chain(url, inner, None, hops, seen, None, checked_at)
                if end is not None:
                    return end
                current = inner
                continue
            try:
                response = await self._answer(current)
            except _HopFailed as failure:
                hops.append(Hop(current, failure.http_status))
                # The last URL reached: one that answered, or one a redirect led to.
                reached = bool(hops[:-1]) or failure.http_status is not None
                return Resolution(
                    url=url,
                    status=failure.status,
                    hops=tuple(hops),
                    checked_at=checked_at,
                    http_status=failure.http_status,
                    final_url=current if reached else None,
                    error=failure.error,
                    retry_after=failure.retry_after,
                )
            if response.next_url is None:
                hops.append(Hop(current, response.status_code))
                ok = 200 <= response.status_code < 300
                error = None
                if not ok:
                    error = f"HTTP {response.status_code}"
                    if response.status_code in REDIRECT_STATUS:
                        error += " without a usable Location"
                return Resolution(
                    url=url,
                    status="ok" if ok else "http_error",
                    hops=tuple(hops),
                    checked_at=checked_at,
                    http_status=response.status_code,
                    final_url=current,
                    error=error,
                    title=response.title if ok else None,
                )
            hops.append(Hop(current, response.status_code, response.via))
            target, problem = _join(current, response.next_url, keep_fragment=response.via == "location")
            end = self._end_of_chain(url, target, problem, hops, seen, response.status_code, checked_at)
            if end is not None:
                return end
            assert target is not None
            current = target

    def _end_of_chain(
        self,
        url: str,
        target: str | None,
        problem: str | None,
        hops: list[Hop],
        seen: set[str],
        status_code: int | None,
        checked_at: str,
    ) -> Resolution | None:
        def ended(status: str, error: str, final: str | None, *, add: str | None = None) -> Resolution:
            if add is not None:
                hops.append(Hop(add, None))
            return Resolution(
                url=url,
                status=status,
                hops=tuple(hops),
                checked_at=checked_at,
                http_status=status_code,
                final_url=final,
                error=error,
            )

        last = hops[-1].url
        if target is None:
            raw = (problem or "")[:2000]
            return ended("invalid", f"redirect to an unsupported URL: {raw}", last, add=raw)
        if _loop_key(target) in seen:
            return ended("redirect_loop", f"redirects back to {target}", last)
        if len(hops) > self.settings.max_hops:
            # The refused next hop is the chain's last row, not its final URL: that is
            # the last URL actually requested (none, for a chain of wrappers alone).
            requested = next((h.url for h in reversed(hops) if h.status_code is not None), None)
            return ended(
                "too_many_redirects",
                f"more than {self.settings.max_hops} redirects",
                requested,
                add=target,
            )
        return None

    async def _answer(self, url: str) -> _Response:
        key = _loop_key(url)
        pending = self.answers.get(key)
        if pending is None:
            pending = self.answers.reserve(key)
            try:
                pending.set_result(await self._fetch_with_retries(url))
            except _HopFailed as failure:
                pending.set_exception(failure.copy())
            except BaseException:
                self.answers.forget(key)
                pending.cancel()
                raise
            self.answers.settled(key)
        try:
            return await asyncio.shield(pending)
        except _HopFailed as failure:
            # The kept answer must not keep the frames it was raised through (25 KB a
            # failure, so 100,000 failing links took 770 MB): each caller gets a copy.
            failure.with_traceback(None)
            raise failure.copy() from None

    async def _fetch_with_retries(self, url: str) -> _Response:
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(_Transient),
                stop=stop_after_attempt(self.settings.attempts),
                wait=self._wait,
                sleep=self.sleep,
                reraise=True,
            ):
                with attempt:
                    return await self._fetch(url)
        except _Transient as ex:
            failure = _HopFailed(ex.status, str(ex), http_status=ex.http_status)
            failure.retry_after = ex.retry_after
            raise failure from ex
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    def _wait(self, state: RetryCallState) -> float:
        backoff: float = wait_exponential_jitter(initial=1, max=30)(state)
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Transient) and error.retry_after is not None:
            return min(error.retry_after, self.settings.max_retry_after)
        return backoff

    async def _fetch(self, url: str) -> _Response:
        """One GET of one URL: the status and where the response points next."""
        host = hostname(url)
        reason = self.settings.refusal(url)
        if reason:
            raise _HopFailed("blocked", f"refused: {reason}")
        try:
            async with self.limiter.slot(host):
                async with asyncio.timeout(self.settings.timeout):
                    return await self._get(url, host)
        except (_HopFailed, _Transient):
            raise
        except TimeoutError as ex:
            raise _Transient(
                f"no complete answer within {self.settings.timeout:g} s", status="timeout"
            ) from ex
        except Exception as ex:  # noqa: BLE001 - every other failure becomes a status
            raise _classify(ex) from ex

    def _beyond_the_run(self, host: str, retry_after: float) -> str | None:
        """Return why a wait ``host`` asks for is not waited in this run, or None to wait."""
        asked = self.limiter.asked(host)
        if retry_after + asked > self.settings.max_retry_after:
            before = f" after {asked:.0f} s asked before" if asked else ""
            return f"{before} is longer than this run waits"
        deadline = self.settings.deadline
        if deadline is not None and time.monotonic() + retry_after > deadline:
            return " is longer than what is left of the run's time limit"
        return None

    async def _get(self, url: str, host: str) -> _Response:
        async with self.clients.client_for(host) as client, client.stream("GET", url) as response:
            status = response.status_code
            if status in RETRYABLE_STATUS:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                # The waits a host asks for add up: once they pass what a run waits for
                # one host, its other links are left for the next run (100 links each
                # answered "Retry-After: 120" would otherwise hold a run for hours).
                beyond = None if retry_after is None else self._beyond_the_run(host, retry_after)
                if retry_after is not None and beyond is not None:
                    self.limiter.defer(host, retry_after)
                    failure = _HopFailed(
                        "http_error",
                        f"HTTP {status}; Retry-After {retry_after:.0f} s{beyond}",
                        http_status=status,
                    )
                    failure.retry_after = retry_after
                    raise failure
                if retry_after is not None:
                    self.limiter.pause(host, retry_after)
                raise _Transient(
                    f"HTTP {status}", status="http_error", http_status=status, retry_after=retry_after
                )
            targets = locations(response)
            if status in REDIRECT_STATUS and targets:
                if len(set(targets)) > 1:
                    raise _HopFailed(
                        "invalid",
                        f"conflicting Location headers: {' | '.join(targets)[:500]}",
                        http_status=status,
                    )
                await _drain(response)
                return _Response(status, targets[0], "location", None)
            refresh = parse_refresh(response.headers.get("refresh", ""))
            if refresh:
                return _Response(status, refresh, "refresh", None)
            if not (200 <= status < 300) or "html" not in response.headers.get("content-type", "html"):
                return _Response(status, None, None, None)
            try:
                body, _cut = await read_capped(response, BODY_CAP)
            except BodyTooLarge:
                return _Response(status, None, None, None)
        page = _decode_page(body, response.encoding)
        title = find_title(page)
        meta = find_meta_refresh(page)
        if meta:
            return _Response(status, meta, "meta", title)
        if len(body) <= JS_REDIRECT_MAX_BODY or is_shortener(url):
            script = find_js_redirect(page)
            if script:
                return _Response(status, script, "js", title)
        return _Response(status, None, None, title)


async def _drain(response: httpx.Response) -> None:
    """Read the short body of a redirect, so that its connection can carry the next request.

    A connection whose response was not read to the end is closed, and the next hop
    to the same host would pay for a new one.  Long bodies are not worth reading.
    """
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) <= REDIRECT_BODY_CAP:
        with contextlib.suppress(BodyTooLarge):
            await read_capped(response, REDIRECT_BODY_CAP)


def _join(current: str, target: str, *, keep_fragment: bool = False) -> tuple[str | None, str | None]:
    """Return the absolute next URL, or None and the raw target when it cannot be followed.

    With ``keep_fragment`` (a Location header), a target without a fragment inherits
    the current URL's, as a browser does (RFC 9110, section 10.2.2).
    """
    target = target.strip()
    if not target:
        return None, "(empty Location)"
    try:
        joined = urljoin(current, target)
    except ValueError:
        return None, target
    if keep_fragment and "#" in current and "#" not in target:
        joined = f"{joined}#{current.split('#', 1)[1]}"
    try:
        scheme = urlsplit(joined).scheme.lower() if ":" in joined else ""
    except ValueError:
        return None, target
    if scheme not in ("http", "https"):
        return None, target
    normalised = normalise_url(joined)
    if normalised is None:
        return None, target
    return normalised, None


def _decode_page(body: bytes, charset: str | None) -> str:
    """Return a page's text; a charset no text codec stands for (``zip``, ``idna``) reads as UTF-8."""
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except (LookupError, UnicodeError, ValueError):
        return body.decode("utf-8", errors="replace")


def _loop_key(url: str) -> str:
    return url.split("#", 1)[0]


def _classify(error: Exception) -> Exception:
    """Return the failure a request error stands for: retryable or not, and its status."""
    chain = _causes(error)
    if any(isinstance(e, BlockedAddress) for e in chain):
        blocked = next(e for e in chain if isinstance(e, BlockedAddress))
        return _HopFailed("blocked", f"refused: {blocked.reason}")
    if any(isinstance(e, NameResolutionError) for e in chain):
        return _HopFailed("dns_error", str(next(e for e in chain if isinstance(e, NameResolutionError))))
    if any(isinstance(e, ssl.SSLError | ssl.CertificateError) for e in chain):
        detail = next(e for e in chain if isinstance(e, ssl.SSLError | ssl.CertificateError))
        return _HopFailed("tls_error", f"TLS: {detail}")
    if isinstance(error, httpx.TimeoutException):
        return _Transient(f"timed out ({type(error).__name__})", status="timeout")
    if isinstance(error, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return _HopFailed("invalid", f"invalid URL: {error}")
    if isinstance(error, httpx.TransportError):
        return _Transient(f"{type(error).__name__}: {error}", status="connect_error")
    log.warning("unexpected error resolving a link: %r", error)
    return _HopFailed("connect_error", f"unexpected {type(error).__name__}: {error}")


def _causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


# -- many links ----------------------------------------------------------------------


class _Dispatcher:
    """Hands out URLs so that no host holds up the others.

    Links are grouped by the host of their first hop and taken round-robin from the
    hosts that still have a free slot, so 5,000 bit.ly links queued first do not
    leave every worker waiting on bit.ly's two slots.
    """

    def __init__(self, links: Iterable[tuple[str, str | None]], per_host: int) -> None:
        self._queues: dict[str, deque[tuple[str, str | None]]] = {}
        for url, start in links:
            self._queues.setdefault(hostname(start or url), deque()).append((url, start))
        self._ready: deque[str] = deque(self._queues)
        self._busy: dict[str, int] = {}
        self._per_host = per_host
        self._changed = asyncio.Condition()

    async def take(self) -> tuple[str, tuple[str, str | None]] | None:
        async with self._changed:
            while True:
                if self._ready:
                    host = self._ready.popleft()
                    queue = self._queues[host]
                    link = queue.popleft()
                    self._busy[host] = self._busy.get(host, 0) + 1
                    if queue and self._busy[host] < self._per_host:
                        self._ready.append(host)
                    elif not queue:
                        del self._queues[host]
                    return host, link
                if not self._queues:
                    return None
                await self._changed.wait()

    async def done(self, host: str) -> None:
        async with self._changed:
            self._busy[host] -= 1
            queue = self._queues.get(host)
            if queue and host not in self._ready and self._busy[host] < self._per_host:
                self._ready.append(host)
            self._changed.notify_all()


async def resolve_many(
    urls: Iterable[str | tuple[str, str | None]],
    *,
    settings: ResolverSettings | None = None,
    resolver: Resolver | None = None,
    sleep: Sleep = asyncio.sleep,
    now: Callable[[], str] = utc_now,
) -> AsyncGenerator[Resolution, None]:
    """Yield a Resolution for every URL, in the order they complete.

    An item is a URL, or a pair of a URL and an expansion to start from (None: none).
    ``resolver``, ``sleep`` and ``now`` are for tests: a fake DNS, a sleep that
    records instead of waiting, a fixed clock.
    """
    settings = settings or ResolverSettings()
    clients = HostClients(per_host=settings.per_host, **settings.client_options(resolver))
    session = _Session(clients, settings, HostLimiter(settings.per_host, sleep=sleep), sleep, now)
    dispatcher = _Dispatcher(((u, None) if isinstance(u, str) else u for u in urls), settings.per_host)
    results: asyncio.Queue[Resolution | None] = asyncio.Queue(maxsize=settings.concurrency * 4)

    async def worker() -> None:
        while (job := await dispatcher.take()) is not None:
            host, (url, start) = job
            try:
                resolution = await session.resolve_url(url, start)
            finally:
                await dispatcher.done(host)
            await results.put(resolution)

    async def run_workers() -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(settings.concurrency):
                    group.create_task(worker())
        finally:
            await results.put(None)

    runner = asyncio.create_task(run_workers())
    try:
        while (resolution := await results.get()) is not None:
            yield resolution
        await runner
    finally:
        if not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner
        await clients.aclose()


# -- fetching a source ---------------------------------------------------------------

# A feed or page larger than this is not read: it is not a page of posts.
SOURCE_CAP = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Fetched:
    """A feed or page as fetched: its body, or None when the server said it has not changed."""

    url: str  # where the redirects ended
    status_code: int
    body: bytes | None
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        """Return True when a conditional request was answered 304 Not Modified."""
        return self.status_code == 304


async def fetch_source(
    url: str,
    *,
    settings: ResolverSettings | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    client: httpx.AsyncClient | None = None,
    resolver: Resolver | None = None,
) -> Fetched:
    """Return a feed or page URL's body, following redirects under the same guard as links.

    With ``etag`` / ``last_modified`` from the previous fetch the request is
    conditional, and a 304 costs no body.  Raises SourceUnavailable naming the URL
    and what went wrong.
    """
    settings = settings or ResolverSettings()
    own_client = client is None
    if client is None:
        client = build_client(max_connections=settings.per_host, **settings.client_options(resolver))
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current: str | None = normalise_url(url)
    try:
        for _ in range(settings.max_hops + 1):
            if current is None:
                raise SourceUnavailable(f"{url}: not a usable http(s) URL")
            answer = await _fetch_source_hop(client, current, settings, headers)
            if isinstance(answer, Fetched):
                return answer
            current = answer
        raise SourceUnavailable(f"{url}: more than {settings.max_hops} redirects")
    finally:
        if own_client:
            await client.aclose()


async def _fetch_source_hop(
    client: httpx.AsyncClient, url: str, settings: ResolverSettings, headers: dict[str, str]
) -> Fetched | str:
    reason = settings.refusal(url)
    if reason:
        raise SourceUnavailable(f"{url}: refused: {reason}")
    try:
        async with asyncio.timeout(settings.timeout * 4):
            async with client.stream("GET", url, headers=headers) as response:
                targets = locations(response)
                status = response.status_code
                if status in REDIRECT_STATUS and targets:
                    target, problem = _join(url, targets[0])
                    if target is None:
                        raise SourceUnavailable(f"{url}: redirect to an unsupported URL: {problem}")
                    return target
                validators = {
                    "etag": response.headers.get("etag"),
                    "last_modified": response.headers.get("last-modified"),
                }
                if status == 304:
                    return Fetched(url, status, None, **validators)
                if not 200 <= status < 300:
                    raise SourceUnavailable(f"{url}: HTTP {status}")
                body, cut = await read_capped(response, SOURCE_CAP)
    except SourceUnavailable:
        raise
    except TimeoutError as ex:
        raise SourceUnavailable(f"{url}: timed out") from ex
    except BodyTooLarge as ex:
        raise SourceUnavailable(f"{url}: {ex}") from ex
    except Exception as ex:  # noqa: BLE001 - reported by name, the run goes on
        failure = _classify(ex)
        raise SourceUnavailable(f"{url}: {failure}") from ex
    if cut:
        raise SourceUnavailable(f"{url}: larger than {SOURCE_CAP} bytes")
    return Fetched(url, status, body, **validators)
