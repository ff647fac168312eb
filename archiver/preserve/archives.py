"""Asking web archives: looking up a URL's captures, and asking the Internet Archive to capture one.

Every request goes through the same HTTP stack, address guard and proxy as link
resolution, one request at a time to each archive host, retried by the same
machinery (tenacity, Retry-After); a host that asks to wait longer than a run waits
is left for the next run.  Save Page Now is asked no more than the daily quota
(``CaptureSettings.save_limit``, and what the archive itself reports as left when
keys are given), with ``save_spacing`` seconds between requests (it blocks clients
that ask more than 15 a minute).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from ..clock import utc_now
from ..http import (
    Answer,
    HopFailed,
    HostClients,
    HostLimiter,
    Resolver,
    ResolverSettings,
    as_they_come,
    ask,
    with_retries,
)
from ..jsontext import load_json
from ..models import (
    Capture,
    CaptureMode,
    ListingKind,
    LookupJob,
    LookupResult,
    LookupStatus,
    SaveJob,
    SaveResult,
    SaveStatus,
)
from .listing import (
    CDX_LIMIT,
    Endpoint,
    ListingError,
    from_timestamp,
    parse_cdx,
    parse_timemap,
    summarise,
    timemap_pages,
)

__all__ = [
    "DEFAULT_ENDPOINTS",
    "DEFAULT_SAVE_URL",
    "ArchiveClient",
    "CaptureSettings",
    "SlowDown",
]

DEFAULT_ENDPOINTS = ("https://web.archive.org/cdx/search/cdx",)
DEFAULT_SAVE_URL = "https://web.archive.org/save"
# What one lookup reads in all, every page of a paged TimeMap together: an answer longer
# than this is cut (and its count says "at least").  With MEMENTO_LIMIT it bounds what a
# lookup holds in memory however a server pages or pads its answers.
LISTING_CAP = 16 * 1024 * 1024
# Mementos one lookup keeps; like a CDX answer's CDX_LIMIT rows, more make "at least".
MEMENTO_LIMIT = CDX_LIMIT
# Pages of one paged TimeMap read at most, and how long following them may take, in
# request timeouts.
TIMEMAP_PAGES = 10
TIMEMAP_TIMEOUTS = 8
# Save Page Now's answers are short JSON or a short page.
SAVE_ANSWER_CAP = 1024 * 1024
_JOB_ID = re.compile(r"spn2-[0-9a-f]{8,64}")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CaptureSettings:
    """Whether and how web archives are asked (the CLI's --captures options)."""

    mode: CaptureMode = CaptureMode.OFF
    endpoints: tuple[str, ...] = DEFAULT_ENDPOINTS
    save_url: str = DEFAULT_SAVE_URL
    save_limit: int = 100  # Save Page Now requests in any 24 hours
    lookups_per_run: int = 500
    lookup_every_days: float = 30.0  # a URL's captures are looked up again after this
    save_spacing: float = 5.0  # seconds between two Save Page Now requests
    poll_every: float = 10.0  # seconds between looks at a pending capture
    polls: int = 3  # looks at a capture asked in this run before leaving it for the next
    access_key: str | None = None
    secret_key: str | None = None

    @property
    def looks_up(self) -> bool:
        return self.mode in (CaptureMode.LOOKUP, CaptureMode.SAVE)

    @property
    def saves(self) -> bool:
        return self.mode == CaptureMode.SAVE


class SlowDown(Exception):
    """Save Page Now asked to slow down: no more captures are asked for in this run."""


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes
    cut: bool
    content_type: str


class ArchiveClient:
    """Requests to web archives, under the run's guard, proxy, limits and retries."""

    def __init__(
        self,
        resolving: ResolverSettings,
        settings: CaptureSettings,
        *,
        resolver: Resolver | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.resolving = resolving
        self.settings = settings
        self._clients = HostClients(per_host=1, **resolving.client_options(resolver))
        self._limiter = HostLimiter(1, sleep=sleep)
        self._sleep = sleep

    async def aclose(self) -> None:
        await self._clients.aclose()

    # -- looking up ---------------------------------------------------------------------

    async def lookup_many(
        self, jobs: Iterable[LookupJob], *, workers: int = 4
    ) -> AsyncIterator[LookupResult]:
        """Yield what each endpoint says of each job's URL, in the order they complete."""
        queue: asyncio.Queue[LookupJob] = asyncio.Queue()
        for job in jobs:
            queue.put_nowait(job)

        async def worker(hand_over: Callable[[LookupResult], Awaitable[None]]) -> None:
            while not queue.empty():
                job = queue.get_nowait()
                for endpoint in self.settings.endpoints:
                    await hand_over(await self.lookup(job, Endpoint.parse(endpoint)))

        async with contextlib.aclosing(
            as_they_come(worker, workers=max(1, min(workers, queue.qsize())))
        ) as results:
            async for result in results:
                yield result

    async def lookup(self, job: LookupJob, endpoint: Endpoint) -> LookupResult:
        """Return what one archive lists for one URL; never raises for a failed lookup."""
        looked_up_at = utc_now()
        archive = endpoint.archive
        try:
            answer = await self._request(endpoint.lookup_url(job.url), cap=LISTING_CAP)
        except HopFailed as failure:
            return LookupResult(
                job,
                archive,
                looked_up_at,
                LookupStatus.FAILED,
                error=failure.error,
                retry_after=failure.retry_after,
            )
        if answer.status == 404 and endpoint.kind == ListingKind.TIMEMAP:
            # A TimeMap answers 404 for a URL it has no capture of (RFC 7089, 4.3).
            return LookupResult(job, archive, looked_up_at, LookupStatus.NONE, summarise([], near=job.near))
        if not 200 <= answer.status < 300:
            return LookupResult(
                job, archive, looked_up_at, LookupStatus.FAILED, error=f"HTTP {answer.status}"
            )
        try:
            if endpoint.kind == ListingKind.CDX:
                captures = parse_cdx(answer.body, endpoint)
                capped = answer.cut or len(captures) >= CDX_LIMIT
            else:
                captures, capped = await self._timemap_pages(endpoint.lookup_url(job.url), answer)
        except ListingError as ex:
            if answer.cut:
                return LookupResult(
                    job, archive, looked_up_at, LookupStatus.FAILED, error=f"listing cut: {ex}"
                )
            return LookupResult(job, archive, looked_up_at, LookupStatus.FAILED, error=str(ex))
        summary = summarise(captures, near=job.near, capped=capped)
        status = LookupStatus.FOUND if summary.count else LookupStatus.NONE
        return LookupResult(job, archive, looked_up_at, status, summary)

    async def _timemap_pages(self, first_url: str, first: _Answer) -> tuple[list[Capture], bool]:
        """Return the mementos of a TimeMap and of the pages it leads to (RFC 7089, 4.3: an
        archive may page a long TimeMap); and whether some were left.

        All the pages together are read within LISTING_CAP bytes, MEMENTO_LIMIT mementos,
        TIMEMAP_PAGES pages and TIMEMAP_TIMEOUTS request timeouts.
        """
        found = {capture.url: capture for capture in parse_timemap(first.body, limit=MEMENTO_LIMIT)}
        capped = first.cut or len(found) >= MEMENTO_LIMIT
        left = LISTING_CAP - len(first.body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.resolving.timeout * TIMEMAP_TIMEOUTS
        seen = {first_url}
        pending = [u for u in timemap_pages(first.body, first_url) if u not in seen]
        while pending and not capped:
            if len(seen) >= TIMEMAP_PAGES or left <= 0 or loop.time() >= deadline:
                return list(found.values()), True
            url = pending.pop(0)
            seen.add(url)
            try:
                answer = await self._request(url, cap=left)
                if not 200 <= answer.status < 300:
                    return list(found.values()), True  # the pages read so far stand; a lower bound
                for capture in parse_timemap(answer.body, limit=MEMENTO_LIMIT - len(found)):
                    found.setdefault(capture.url, capture)
            except (HopFailed, ListingError):
                return list(found.values()), True
            left -= len(answer.body)
            capped = answer.cut or len(found) >= MEMENTO_LIMIT
            pending += [u for u in timemap_pages(answer.body, url) if u not in seen and u not in pending]
        return list(found.values()), capped or bool(pending)

    # -- saving -------------------------------------------------------------------------

    def _save_headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.settings.access_key and self.settings.secret_key:
            headers["Authorization"] = f"LOW {self.settings.access_key}:{self.settings.secret_key}"
        return headers

    async def saves_left(self) -> int | None:
        """Return how many captures the archive says the account may still ask today, or None.

        Only an account has a status to ask (``/save/status/user``); without keys the
        local limit alone applies.
        """
        if not (self.settings.access_key and self.settings.secret_key):
            return None
        try:
            answer = await self._request(
                f"{self.settings.save_url.rstrip('/')}/status/user",
                headers=self._save_headers(),
                cap=SAVE_ANSWER_CAP,
            )
            status = load_json(answer.body)
        except (HopFailed, ValueError):
            return None
        if not isinstance(status, dict):
            return None
        left: list[int] = []
        if isinstance(status.get("available"), int):
            left.append(status["available"])
        used, limit = status.get("daily_captures"), status.get("daily_captures_limit")
        if isinstance(used, int) and isinstance(limit, int):
            left.append(max(0, limit - used))
        return min(left) if left else None

    async def save(self, job: SaveJob) -> SaveResult:
        """Ask the archive to capture ``job.url`` now; never raises for a refusal.

        Raises SlowDown only when the archive asks to slow down (429), so that the
        caller stops asking for the rest of the run.
        """
        requested_at = utc_now()
        try:
            answer = await self._request(
                self.settings.save_url,
                method="POST",
                headers={**self._save_headers(), "Content-Type": "application/x-www-form-urlencoded"},
                content=urlencode({"url": job.url}).encode(),
                cap=SAVE_ANSWER_CAP,
            )
        except HopFailed as failure:
            if failure.http_status == 429:
                raise SlowDown(failure.error) from failure
            return SaveResult(job, requested_at, SaveStatus.FAILED, message=failure.error)
        if answer.status == 429:
            raise SlowDown("Save Page Now asks to slow down (HTTP 429)")
        text = answer.body.decode("utf-8", errors="replace")
        job_id, message = _job_of(text)
        if not 200 <= answer.status < 300 or job_id is None:
            reason = message or f"HTTP {answer.status}"
            return SaveResult(job, requested_at, SaveStatus.FAILED, message=reason[:500])
        return SaveResult(job, requested_at, SaveStatus.PENDING, job_id=job_id, message=message)

    async def poll(self, result: SaveResult) -> SaveResult:
        """Return where a pending capture stands now (``/save/status/JOB``)."""
        if result.job_id is None:
            return result
        try:
            answer = await self._request(
                f"{self.settings.save_url.rstrip('/')}/status/{result.job_id}",
                headers=self._save_headers(),
                cap=SAVE_ANSWER_CAP,
            )
            status = load_json(answer.body) if 200 <= answer.status < 300 else None
        except (HopFailed, ValueError):
            return result
        if not isinstance(status, dict):
            return result
        state = status.get("status")
        if state == "success" and isinstance(status.get("timestamp"), str):
            timestamp = status["timestamp"]
            given = status.get("original_url")
            original = given if isinstance(given, str) and given else result.job.url
            replay = Endpoint(
                self.settings.save_url.rstrip("/").removesuffix("/save") + "/cdx/search/cdx", ListingKind.CDX
            )
            capture_url = replay.replay_url(timestamp, original)
            return SaveResult(
                result.job,
                result.requested_at,
                SaveStatus.SAVED,
                result.job_id,
                capture_url,
                from_timestamp(timestamp),
                None,
            )
        if state == "error":
            message = status.get("message") or status.get("status_ext") or "the capture failed"
            return SaveResult(
                result.job, result.requested_at, SaveStatus.FAILED, result.job_id, message=str(message)[:500]
            )
        return result

    # -- one request --------------------------------------------------------------------

    async def _request(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        cap: int,
    ) -> _Answer:
        return await with_retries(
            lambda: self._once(url, method, headers, content, cap),
            attempts=self.resolving.attempts,
            max_wait=self.resolving.max_retry_after,
            sleep=self._sleep,
        )

    async def _once(
        self, url: str, method: str, headers: dict[str, str] | None, content: bytes | None, cap: int
    ) -> _Answer:
        async def read(answer: Answer) -> _Answer:
            body, cut = await answer.read(cap)
            return _Answer(answer.status, body, cut, answer.header("content-type"))

        return await ask(
            url,
            read,
            clients=self._clients,
            limiter=self._limiter,
            settings=self.resolving,
            timeout=self.resolving.timeout * 4,
            method=method,
            headers=headers,
            content=content,
        )


def _job_of(text: str) -> tuple[str | None, str | None]:
    """Return the job id and message of a Save Page Now answer (JSON, or the page it shows)."""
    try:
        answer = load_json(text)
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        job_id = answer.get("job_id")
        message = answer.get("message")
        return (job_id if isinstance(job_id, str) and job_id else None), (str(message) if message else None)
    match = _JOB_ID.search(text)
    return (match.group(0) if match else None), None
