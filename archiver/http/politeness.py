"""Politeness: at most so many requests in flight to a host, its waits kept, no host holding up others."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import NoReturn

from ..models import LinkStatus
from ..urls import hostname
from .outcomes import HopFailed, Transient

__all__ = ["Dispatcher", "HostLimiter"]

Sleep = Callable[[float], Awaitable[None]]


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
                raise HopFailed(
                    LinkStatus.HTTP_ERROR,
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

    def deferred(self, host: str) -> float | None:
        """Return the wait ``host`` asked for that left it for a later run, or None."""
        return self._deferred.get(host)

    def slow_down(
        self, host: str, status: int, retry_after: float | None, *, max_wait: float, deadline: float | None
    ) -> NoReturn:
        """Raise for an answer asking to slow down (429, 503...), waiting as the host asks if the run can.

        Transient (tried again after the wait, which holds the host's other requests
        too), or HopFailed when the waits the host asked for add up past ``max_wait``
        or past the run's ``deadline``: its other requests are then left for the next run
        (100 links each answered "Retry-After: 120" would otherwise hold a run for hours).
        """
        beyond = None if retry_after is None else self.beyond_the_run(host, retry_after, max_wait, deadline)
        if retry_after is not None and beyond is not None:
            self.defer(host, retry_after)
            raise HopFailed(
                LinkStatus.HTTP_ERROR,
                f"HTTP {status}; Retry-After {retry_after:.0f} s{beyond}",
                http_status=status,
                retry_after=retry_after,
            )
        if retry_after is not None:
            self.pause(host, retry_after)
        raise Transient(
            f"HTTP {status}", status=LinkStatus.HTTP_ERROR, http_status=status, retry_after=retry_after
        )

    def beyond_the_run(
        self, host: str, retry_after: float, max_wait: float, deadline: float | None
    ) -> str | None:
        """Return why a wait ``host`` asks for is not waited in this run, or None to wait."""
        asked = self.asked(host)
        if retry_after + asked > max_wait:
            before = f" after {asked:.0f} s asked before" if asked else ""
            return f"{before} is longer than this run waits"
        if deadline is not None and self._clock() + retry_after > deadline:
            return " is longer than what is left of the run's time limit"
        return None


class Dispatcher:
    """Hands out URLs so that no host holds up the others.

    Links are grouped by the host of their first hop and taken round-robin from the
    hosts that still have a free slot, so 5,000 bit.ly links queued first do not
    leave every worker waiting on bit.ly's two slots.  The links are read from their
    iterable as they are needed, ``window`` ahead; while every host read so far is at
    its limit, more are read, up to ``most`` waiting, to find one that is not.  So a
    million links are never all in memory, and a long run of one host's links does not
    stall the others.
    """

    def __init__(
        self,
        links: Iterable[tuple[str, str | None]],
        per_host: int,
        *,
        window: int = 5000,
        most: int = 50_000,
    ) -> None:
        self._links = iter(links)
        self._more = True  # the iterable may hold more
        self._waiting = 0
        self._window = window
        self._most = max(most, window)
        self._queues: dict[str, deque[tuple[str, str | None]]] = {}
        self._ready: deque[str] = deque()
        self._busy: dict[str, int] = {}
        self._per_host = per_host
        self._changed = asyncio.Condition()
        self._read(window)

    def _read(self, count: int) -> None:
        """Queue up to ``count`` more links from the iterable."""
        for _ in range(count):
            link = next(self._links, None)
            if link is None:
                self._more = False
                return
            url, start = link
            host = hostname(start or url)
            queue = self._queues.get(host)
            if queue is None:
                queue = self._queues[host] = deque()
                if self._busy.get(host, 0) < self._per_host:
                    self._ready.append(host)
            queue.append(link)
            self._waiting += 1

    async def take(self) -> tuple[str, tuple[str, str | None]] | None:
        async with self._changed:
            while True:
                if self._more and self._waiting < self._window:
                    self._read(self._window - self._waiting)
                while self._more and not self._ready and self._waiting < self._most:
                    self._read(min(self._window, self._most - self._waiting))
                if self._ready:
                    host = self._ready.popleft()
                    queue = self._queues[host]
                    link = queue.popleft()
                    self._waiting -= 1
                    self._busy[host] = self._busy.get(host, 0) + 1
                    if queue and self._busy[host] < self._per_host:
                        self._ready.append(host)
                    elif not queue:
                        del self._queues[host]
                    return host, link
                if not self._queues and not self._more:
                    return None
                await self._changed.wait()

    async def done(self, host: str) -> None:
        async with self._changed:
            self._busy[host] -= 1
            queue = self._queues.get(host)
            if queue and host not in self._ready and self._busy[host] < self._per_host:
                self._ready.append(host)
            self._changed.notify_all()
