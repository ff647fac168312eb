"""Resolving many links at once: workers over a dispatcher, results in the order they complete."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import replace

from ..clock import utc_now
from ..http import Dispatcher, HandOver, Resolver, ResolverSettings, as_they_come
from ..models import COPY_LIMIT, Resolution
from .chain import ChainFollower, Keep, Requester
from .hops import Asker, HopAsker, Sleep
from .probe import Prober

__all__ = ["resolve_many"]

# Chains begun at once for each request slot of their first host.  A chain holds its
# first host for one hop of its two or three: with one chain a slot, a collection whose
# links all pass one shortener asked it a third of the time.  The host's requests stay
# at --per-host in flight whatever this is (HostLimiter); this only lets the next chains
# wait at the shortener while the last ones follow their redirects elsewhere.
CHAINS_PER_SLOT = 3


async def resolve_many(
    urls: Iterable[str | tuple[str, str | None]],
    *,
    settings: ResolverSettings | None = None,
    resolver: Resolver | None = None,
    sleep: Sleep = asyncio.sleep,
    now: Callable[[], str] = utc_now,
    keep: Keep | None = None,
    copy_limit: int = COPY_LIMIT,
    asker: Asker | None = None,
) -> AsyncGenerator[Resolution, None]:
    """Yield a Resolution for every URL, in the order they complete.

    An item is a URL, or a pair of a URL and an expansion to start from (None: none).
    ``resolver``, ``sleep`` and ``now`` are for tests: a fake DNS, a sleep that
    records instead of waiting, a fixed clock.  ``keep`` takes a copy of every answer
    read (its body up to ``copy_limit`` bytes) with the link whose chain asked for it.
    ``asker`` asks the hops elsewhere (the owners of their hosts on a cluster); without
    it they are asked from this process, within ``settings``' limits.
    """
    settings = settings or ResolverSettings()
    local = None
    if asker is None:
        asker = local = HopAsker.build(settings, resolver=resolver, sleep=sleep, copy_limit=copy_limit)
    requester = Requester(asker, keep=keep)
    follower = ChainFollower(requester, settings.max_hops, now)
    prober = Prober(follower) if settings.probe else None
    dispatcher = Dispatcher(
        ((u, None) if isinstance(u, str) else u for u in urls), settings.per_host * CHAINS_PER_SLOT
    )

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
        if local is not None:
            await local.aclose()
