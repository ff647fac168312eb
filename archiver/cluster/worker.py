"""A cluster worker's side: the hops of the hosts it owns, asked within their limits.

``HopOwner`` lives on one Dask worker for the length of a run (a Dask actor, one a
worker).  The coordinator hands it batches of hops (``start``) and fetches what has
been answered (``collect``); both run on the worker's event loop, so the requests of
every batch share one ``HopAsker``: one keep-alive pool and one ``HostLimiter`` for
each host, with its spacing and any Retry-After it asked for.  Since every hop of a
host is handed to its one owner, those limits hold for the whole cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace

from ..http import HopFailed, Interpreted, ResolverSettings
from ..models import Exchange, LinkStatus
from ..resolve import HopAsker

__all__ = ["HopOwner", "HopResult"]

log = logging.getLogger(__name__)

# What came of one hop: its number, the answer and its copy, or the failure.
HopResult = tuple[int, Interpreted | None, Exchange | None, HopFailed | None]


class HopOwner:
    """Asks the hops handed to this worker, and keeps what came of them until collected."""

    def __init__(self, settings: ResolverSettings, copy_limit: int) -> None:
        self.settings = settings
        self.copy_limit = copy_limit
        self.asker: HopAsker | None = None
        self.done: list[HopResult] = []
        self.asking: set[asyncio.Task[None]] = set()
        # Set when an answer is waiting to be collected (bound to the worker's loop on first use).
        self.ready = asyncio.Event()

    async def start(self, hops: list[tuple[int, str, bool]], seconds_left: float | None) -> int:
        """Begin asking ``hops`` (number, URL, whether to copy); return how many are in hand.

        ``seconds_left`` is the time to the run's deadline (the coordinator's clock is
        not this machine's), or None when the run has none.
        """
        if self.asker is None:
            deadline = None if seconds_left is None else time.monotonic() + seconds_left
            self.asker = HopAsker.build(replace(self.settings, deadline=deadline), copy_limit=self.copy_limit)
        for number, url, copy in hops:
            task = asyncio.create_task(self._ask(number, url, copy))
            self.asking.add(task)
            task.add_done_callback(self.asking.discard)
        return len(self.asking)

    async def collect(self, wait: float) -> tuple[list[HopResult], int]:
        """Return the hops answered since the last call, and the requests made so far.

        With none answered yet (none asked yet, too), waits up to ``wait`` seconds for one.
        """
        if not self.done:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), wait)
        done, self.done = self.done, []
        self.ready.clear()
        return done, self.asker.requests if self.asker is not None else 0

    async def close(self) -> int:
        """Drop the hops still in hand, close the connections; return the requests made."""
        for task in list(self.asking):
            task.cancel()
        if self.asking:
            await asyncio.gather(*self.asking, return_exceptions=True)
        if self.asker is None:
            return 0
        await self.asker.aclose()
        return self.asker.requests

    async def _ask(self, number: int, url: str, copy: bool) -> None:
        assert self.asker is not None
        try:
            interpreted, exchange = await self.asker.ask(url, copy=copy)
            result: HopResult = (number, interpreted, exchange, None)
        except HopFailed as failure:
            result = (number, None, None, failure.copy())
        except Exception as ex:  # noqa: BLE001 - a hop's failure is data, never the worker's end
            log.warning("unexpected error asking %s: %r", url, ex)
            result = (
                number,
                None,
                None,
                HopFailed(LinkStatus.CONNECT_ERROR, f"unexpected {type(ex).__name__}: {ex}"),
            )
        self.done.append(result)
        self.ready.set()
