"""Asking a platform's public API: one request at a time to a host, its rate limits kept.

Every request goes through archiver's HTTP stack (the address guard, --proxy, the
time limit of one request) with ``http.ask``; a 429 or 503 is waited for as the
server's Retry-After asks and tried again (tenacity), within what the run may wait.
After each answer the rate-limit headers are read (Mastodon's ``X-RateLimit-Remaining``
and ``X-RateLimit-Reset``, Bluesky's ``ratelimit-remaining`` and ``ratelimit-reset``):
when none is left, the host is waited for until its reset if the run can wait that
long; otherwise ``Paused`` is raised and the source is left for the next run, where
its cursor takes it on.  Redirects are not followed: an API that moved is named
as such, and a token never travels to another host.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from ..clock import utc_now
from ..http import (
    MAX_SERVER_WAIT,
    Answer,
    HopFailed,
    HostClients,
    HostLimiter,
    ResolverSettings,
    ask,
    with_retries,
)
from ..jsontext import load_json
from ..models import ArchiverError, Exchange, LinkStatus, SourceUnavailable
from ..urls import hostname

__all__ = ["ApiAnswer", "ApiClient", "Paused", "parse_tokens"]

# An API page is JSON of a few hundred KB; a channel's web page a few hundred too.
API_ANSWER_CAP = 16 * 1024 * 1024
Sleep = Callable[[float], Awaitable[None]]


class Paused(ArchiverError):
    """A host asked to wait longer than the run can: the source is left for the next run."""


@dataclass(frozen=True, slots=True)
class ApiAnswer:
    """An API's answer: its status, body and the pages its Link header points to."""

    url: str
    status: int
    body: bytes
    links: dict[str, str]  # rel -> URL, from the Link header

    def json(self) -> Any:
        """Return the body as JSON; SourceUnavailable names the URL when it is not."""
        try:
            return load_json(self.body.decode("utf-8", errors="replace"))
        except ValueError as ex:
            raise SourceUnavailable(f"{self.url}: the answer is not JSON ({ex})") from ex

    def link_parameter(self, rel: str, name: str) -> str | None:
        """Return one query parameter of the page the Link header names ``rel`` (``max_id`` of next)."""
        target = self.links.get(rel)
        if not target:
            return None
        values = parse_qs(urlsplit(target).query).get(name)
        return values[0] if values else None

    def error_message(self) -> str:
        """Return what an error answer says of itself (``{"error": ...}``), or its status."""
        try:
            value = load_json(self.body.decode("utf-8", errors="replace"))
        except ValueError:
            value = None
        if isinstance(value, dict):
            said = [str(value[key]) for key in ("error", "message") if isinstance(value.get(key), str)]
            if said:
                return f"HTTP {self.status}: {': '.join(dict.fromkeys(said))[:300]}"
        return f"HTTP {self.status}"


def parse_tokens(value: str | None) -> dict[str, str]:
    """Return the access tokens of ``HOST=TOKEN`` pairs (separated by spaces or commas), by host."""
    tokens: dict[str, str] = {}
    for pair in (value or "").replace(",", " ").split():
        host, _, token = pair.partition("=")
        if host and token:
            tokens[host.strip().lower()] = token.strip()
    return tokens


class ApiClient:
    """Requests to platforms' APIs under the run's guard, proxy and limits: one at a time a host."""

    def __init__(
        self,
        settings: ResolverSettings,
        *,
        tokens: Mapping[str, str] | None = None,
        resolver: Any = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        keep: Callable[[Exchange, str | None], None] | None = None,
    ) -> None:
        self.settings = settings
        self._keep = keep  # takes a copy of every answer read, and the source it was for
        self.source: str | None = None  # the source whose copies its answers are
        self._tokens = dict(tokens or {})
        self._clients = HostClients(per_host=1, **settings.client_options(resolver))
        self._limiter = HostLimiter(1, sleep=sleep, clock=clock)
        self._sleep = sleep

    async def aclose(self) -> None:
        await self._clients.aclose()

    def for_source(self, location: str) -> ApiClient:
        """Return this client (its connections, limits and tokens), its copies kept as ``location``'s."""
        bound = copy.copy(self)
        bound.source = location
        return bound

    async def get(
        self, url: str, params: Mapping[str, str | int] | None = None, *, accept: str = "application/json"
    ) -> ApiAnswer:
        """Return the answer to one GET, whatever its status; raise what kept it from coming.

        Paused: the host asked to wait longer than the run can (429, or its rate limit
        used up).  SourceUnavailable: the request failed (refused, timed out, no
        connection), named with the URL.
        """
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        host = hostname(url)
        if self._limiter.deferred(host) is not None:
            raise Paused(f"{host} asked to wait {self._limiter.deferred(host):.0f} s; left for the next run")
        headers = {"Accept": accept}
        token = self._tokens.get(host)
        if token:
            headers["Authorization"] = f"Bearer {token}"

        async def read(answer: Answer) -> ApiAnswer:
            recorded_at = utc_now()
            body, cut = await answer.read(API_ANSWER_CAP)
            if self._keep is not None:  # the token stays out of the copy (Answer.exchange)
                self._keep(answer.exchange(url, recorded_at, body, cut), self.source)
            if cut:
                raise HopFailed(LinkStatus.HTTP_ERROR, f"an answer larger than {API_ANSWER_CAP} bytes")
            self._mind_rate_limit(host, answer)
            return ApiAnswer(url, answer.status, body, _links(answer.header("link")))

        try:
            return await with_retries(
                lambda: ask(
                    url,
                    read,
                    clients=self._clients,
                    limiter=self._limiter,
                    settings=self.settings,
                    timeout=self.settings.timeout * 4,
                    headers=headers,
                ),
                attempts=self.settings.attempts,
                max_wait=self.settings.max_retry_after,
                sleep=self._sleep,
            )
        except HopFailed as failure:
            if failure.retry_after is not None or self._limiter.deferred(host) is not None:
                raise Paused(f"{url}: {failure.error}; left for the next run") from failure
            raise SourceUnavailable(f"{url}: {failure.error}") from failure

    def _mind_rate_limit(self, host: str, answer: Answer) -> None:
        """Wait for the host's reset when its rate limit is used up, or leave it for the next run."""
        remaining = answer.header("x-ratelimit-remaining") or answer.header("ratelimit-remaining")
        reset = answer.header("x-ratelimit-reset") or answer.header("ratelimit-reset")
        try:
            left = int(remaining.strip())
        except ValueError:
            return
        if left > 0:
            return
        wait = _seconds_until(reset.strip())
        if wait is None or wait <= 0:
            return
        wait = min(wait, MAX_SERVER_WAIT)
        settings = self.settings
        if self._limiter.beyond_the_run(host, wait, settings.max_retry_after, settings.deadline) is not None:
            self._limiter.defer(host, wait)
        else:
            self._limiter.pause(host, wait)


def _seconds_until(reset: str) -> float | None:
    """Return the seconds until a rate limit's reset: Unix seconds, or an ISO 8601 time (Mastodon)."""
    if not reset:
        return None
    now = time.time()
    if reset.replace(".", "", 1).isdigit():
        value = float(reset)
        # Seconds since 1970 (Bluesky), or, if small, seconds from now (the IETF draft).
        return value - now if value > 1e9 else value
    try:
        moment = datetime.fromisoformat(reset.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp() - now


def _links(header: str) -> dict[str, str]:
    """Return the targets of a Link header by rel (RFC 8288): ``<URL>; rel="next"``."""
    found: dict[str, str] = {}
    for part in header.split(","):
        target, _, parameters = part.partition(";")
        target = target.strip()
        if not (target.startswith("<") and target.endswith(">")):
            continue
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "rel":
                for rel in value.strip().strip('"').split():
                    found.setdefault(rel.lower(), target[1:-1])
    return found
