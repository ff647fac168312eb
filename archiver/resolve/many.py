"""Resolving many links at once: workers over a dispatcher, results in the order they complete."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterable
from dataclasses import replace
from typing import Any, TypeVar

from ..clock import utc_now
from ..http import HostClients, Resolver
from ..models import Resolution
from .chain import ChainFollower, Requester
from .politeness import Dispatcher, HostLimiter
from .probe import Prober
from .settings import ResolverSettings

__all__ = ["as_they_come", "resolve_many"]

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")
HandOver = Callable[[T], Awaitable[None]]


async def as_they_come(
    worker: Callable[[HandOver[T]], Coroutine[Any, Any, None]], *, workers: int, buffer: int = 0
) -> AsyncGenerator[T, None]:
    """Run ``workers`` copies of ``worker`` and yield what they hand over, as it comes.

    Each copy is given the function it hands a result over with; at most ``buffer``
    results wait to be taken (0: no bound).  When the caller stops taking results, the
    workers are cancelled; a worker's error reaches the caller.
    """
    results: asyncio.Queue[tuple[T] | None] = asyncio.Queue(maxsize=buffer)

    async def hand_over(result: T) -> None:
        await results.put((result,))

    async def run() -> None:
        cancelled = False
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(worker(hand_over))
        except asyncio.CancelledError:
            cancelled = True  # the caller is gone: nobody would take the end-mark
            raise
        finally:
            if not cancelled:
                await results.put(None)

    runner = asyncio.create_task(run())
    try:
        while (item := await results.get()) is not None:
            yield item[0]
        await runner
    finally:
        if not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner


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
    requester = Requester(clients, settings, HostLimiter(settings.per_host, sleep=sleep), sleep)
    follower = ChainFollower(requester, settings.max_hops, now)
    prober = Prober(follower) if settings.probe else None
    dispatcher = Dispatcher(((u, None) if isinstance(u, str) else u for u in urls), settings.per_host)

    async def worker(hand_over: HandOver[Resolution]) -> None:
        while (job := await dispatcher.take()) is not None:
            host, (url, start) = job
            try:
                resolution = await follower.follow(url, start)
                if prober is not None:
                    probe = await prober.probe_for(resolution)
                    if probe is not None:
                        resolution = replace(resolution, probe=probe)
            finally:
                await dispatcher.done(host)
            await hand_over(resolution)

    try:
        async with contextlib.aclosing(
            as_they_come(worker, workers=settings.concurrency, buffer=settings.concurrency * 4)
        ) as resolutions:
            async for resolution in resolutions:
                yield resolution
    finally:
        await clients.aclose()
