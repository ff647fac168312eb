"""The coordinator's side: each hop handed to the worker that owns its host, its answer brought back.

``ClusterAsker`` is an ``Asker`` (``archiver.resolve``): the chain follower, the answer
cache and the probe run here, beside the database, and only the requests move.  Hops
go to their owners in batches (``HopOwner.start``) and come back in batches
(``HopOwner.collect``, a call that waits up to ``POLL_SECONDS`` for an answer).  A
worker that stops answering, or leaves the scheduler's list, is lost: its hosts go to
their next owners (``Owners.remove``) and its unanswered hops are asked again there.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..http import HopFailed, Interpreted
from ..models import ArchiverError, Exchange
from ..resolve import Asked
from ..urls import hostname
from .owners import Owners

__all__ = ["ClusterAsker", "ClusterLost"]

log = logging.getLogger(__name__)

# How long a worker holds a collect call open when it has nothing to return.
POLL_SECONDS = 0.5
# How often the scheduler is asked which workers are still there.
WATCH_SECONDS = 1.0
# How long the workers get, at the end, to close their connections and report.
CLOSE_SECONDS = 10.0


class ClusterLost(ArchiverError):
    """No worker of the cluster is left to ask the remaining hops."""


@dataclass
class _Hop:
    url: str
    copy: bool
    answer: asyncio.Future[tuple[Interpreted | None, Exchange | None, HopFailed | None]]
    owner: str = ""


@dataclass
class _Worker:
    actor: Any  # a distributed Actor of HopOwner
    waiting: list[int] = field(default_factory=list)  # hop numbers not yet handed over
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    requests: int = 0


class ClusterAsker:
    """Asks every hop from the worker that owns its host; use it as an async context."""

    def __init__(
        self,
        actors: dict[str, Any],
        alive: Callable[[], Awaitable[set[str]]],
        *,
        deadline: float | None = None,
        report: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.owners = Owners(actors)
        self.workers = {address: _Worker(actor) for address, actor in actors.items()}
        self.lost: list[str] = []
        self._alive = alive
        self._deadline = deadline
        self._report = report
        self._hops: dict[int, _Hop] = {}
        self._numbers = itertools.count()
        self._watcher: asyncio.Task[None] | None = None

    @property
    def requests(self) -> dict[str, int]:
        """Requests made by each worker that took part, the lost ones included (as last reported)."""
        return {address: worker.requests for address, worker in self.workers.items()}

    async def __aenter__(self) -> ClusterAsker:
        for address, worker in self.workers.items():
            worker.tasks = [
                asyncio.create_task(self._send(address)),
                asyncio.create_task(self._collect(address)),
            ]
        self._watcher = asyncio.create_task(self._watch())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        for address in list(self.owners.workers):
            worker = self.workers[address]
            for task in worker.tasks:
                task.cancel()
            await self._close(worker)
        for address in self.lost:
            for task in self.workers[address].tasks:
                task.cancel()
        for hop in self._hops.values():
            hop.answer.cancel()

    async def _close(self, worker: _Worker) -> None:
        """Have a worker drop the hops in its hands and close its connections; note its requests."""
        with contextlib.suppress(Exception):  # a worker gone by now has nothing to close
            async with asyncio.timeout(CLOSE_SECONDS):
                worker.requests = await worker.actor.close()

    async def ask(self, url: str, *, copy: bool) -> Asked:
        number = next(self._numbers)
        hop = _Hop(url, copy, asyncio.get_running_loop().create_future())
        self._hops[number] = hop
        try:
            self._route(number, hop)
            interpreted, exchange, failure = await hop.answer
        finally:
            self._hops.pop(number, None)
        if failure is not None:
            raise failure
        assert interpreted is not None
        return interpreted, exchange

    def _route(self, number: int, hop: _Hop) -> None:
        try:
            hop.owner = self.owners.owner(hostname(hop.url))
        except LookupError:
            hop.answer.set_exception(
                ClusterLost(f"every worker of the cluster was lost ({', '.join(self.lost)})")
            )
            return
        worker = self.workers[hop.owner]
        worker.waiting.append(number)
        worker.wake.set()

    async def _send(self, address: str) -> None:
        worker = self.workers[address]
        try:
            while True:
                await worker.wake.wait()
                worker.wake.clear()
                numbers, worker.waiting = worker.waiting, []
                batch = [(n, self._hops[n].url, self._hops[n].copy) for n in numbers if n in self._hops]
                if batch:
                    left = None if self._deadline is None else max(0.0, self._deadline - time.monotonic())
                    await worker.actor.start(batch, left)
        except Exception as ex:  # noqa: BLE001 - any failure to reach a worker is its loss
            self._lose(address, f"{type(ex).__name__}: {ex}")

    async def _collect(self, address: str) -> None:
        worker = self.workers[address]
        try:
            while True:
                results, worker.requests = await worker.actor.collect(POLL_SECONDS)
                for number, interpreted, exchange, failure in results:
                    hop = self._hops.get(number)
                    if hop is not None and hop.owner == address and not hop.answer.done():
                        hop.answer.set_result((interpreted, exchange, failure))
        except Exception as ex:  # noqa: BLE001 - any failure to reach a worker is its loss
            self._lose(address, f"{type(ex).__name__}: {ex}")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            try:
                alive = await self._alive()
            except Exception as ex:  # noqa: BLE001 - the scheduler itself is gone
                for address in list(self.owners.workers):
                    self._lose(address, f"the scheduler does not answer ({type(ex).__name__}: {ex})")
                return
            for address in [a for a in self.owners.workers if a not in alive]:
                self._lose(address, "it left the cluster")

    def _lose(self, address: str, why: str) -> None:
        """Give ``address``'s hosts to their next owners and ask its unanswered hops again there."""
        if address not in self.owners:
            return
        self.owners.remove(address)
        self.lost.append(address)
        current = asyncio.current_task()
        worker = self.workers[address]
        for task in worker.tasks:
            if task is not current:
                task.cancel()
        # A worker only out of reach for a moment must not go on asking the hosts it no
        # longer owns: it is told to drop its hops, if it can still hear.
        worker.tasks = [asyncio.create_task(self._close(worker))]
        moved = [(n, hop) for n, hop in self._hops.items() if hop.owner == address and not hop.answer.done()]
        message = f"cluster worker {address} lost ({why}); {len(moved)} hops asked again elsewhere"
        log.info(message)
        self._report(f"warning: {message}")
        for number, hop in moved:
            self._route(number, hop)
