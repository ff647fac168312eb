"""Resolving many links at once: workers over a dispatcher, results in the order they complete."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from dataclasses import replace

from ..clock import utc_now
from ..http import HostClients, Resolver
from ..models import Resolution
from .chain import ChainFollower, Requester
from .politeness import Dispatcher, HostLimiter
from .probe import Prober
from .settings import ResolverSettings

__all__ = ["resolve_many"]

Sleep = Callable[[float], Awaitable[None]]


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
    results: asyncio.Queue[Resolution | None] = asyncio.Queue(maxsize=settings.concurrency * 4)

    async def worker() -> None:
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
