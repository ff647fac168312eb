"""One hop asked: a URL requested politely, with retries, and what its answer says.

``HopAsker`` is where a hop's request is made, in this process or on the cluster
worker that owns the hop's host: the host's limits (``HostLimiter``), retries with
Retry-After (``with_retries``), and the answer interpreted (``response.interpret``),
read whole up to the copy limit when a copy is kept.  ``Asker`` is what the chain
follower needs of it, so that a hop can be asked elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from ..clock import utc_now
from ..http import (
    Answer,
    BodyTooLarge,
    HostClients,
    HostLimiter,
    Interpreted,
    Resolver,
    ResolverSettings,
    ask,
    with_retries,
)
from ..models import COPY_LIMIT, Exchange
from .response import interpret

__all__ = ["Asked", "Asker", "HopAsker"]

Sleep = Callable[[float], Awaitable[None]]
# An answer as read, and its copy when one was asked for.
Asked = tuple[Interpreted, Exchange | None]


class Asker(Protocol):
    async def ask(self, url: str, *, copy: bool) -> Asked:
        """Return one URL's answer (and its copy if ``copy``), or raise the HopFailed it came to."""
        ...


@dataclass
class HopAsker:
    """Asks hops from this process: within each host's limits, with retries."""

    clients: HostClients
    settings: ResolverSettings
    limiter: HostLimiter
    sleep: Sleep
    copy_limit: int = COPY_LIMIT
    requests: int = 0  # requests made, each try counted

    @classmethod
    def build(
        cls,
        settings: ResolverSettings,
        *,
        resolver: Resolver | None = None,
        sleep: Sleep = asyncio.sleep,
        copy_limit: int = COPY_LIMIT,
    ) -> HopAsker:
        """Return an asker with its own clients and limits; ``aclose`` it when done."""
        clients = HostClients(per_host=settings.per_host, **settings.client_options(resolver))
        return cls(clients, settings, HostLimiter(settings.per_host, sleep=sleep), sleep, copy_limit)

    async def ask(self, url: str, *, copy: bool) -> Asked:
        return await with_retries(
            lambda: self._once(url, copy),
            attempts=self.settings.attempts,
            max_wait=self.settings.max_retry_after,
            sleep=self.sleep,
        )

    async def aclose(self) -> None:
        await self.clients.aclose()

    async def _once(self, url: str, copy: bool) -> Asked:
        """One GET of one URL: the status and where the response points next."""
        self.requests += 1
        read = self._read_whole if copy else self._read
        return await ask(
            url,
            lambda answer: read(answer, url),
            clients=self.clients,
            limiter=self.limiter,
            settings=self.settings,
            timeout=self.settings.timeout,
        )

    async def _read(self, answer: Answer, url: str) -> Asked:
        return await interpret(answer, url), None

    async def _read_whole(self, answer: Answer, url: str) -> Asked:
        """Read the answer up to the copy limit, and interpret what was read.

        The copy is read for at most half the request's time limit and then cut, so that
        a large slow download costs its copy's end, never the link's check.
        """
        recorded_at = utc_now()
        loop = asyncio.get_running_loop()
        until = loop.time() + self.settings.timeout / 2
        unreadable = False
        try:
            body, cut = await answer.read(self.copy_limit, enough=lambda _: loop.time() > until)
        except BodyTooLarge:
            body, cut, unreadable = b"", True, True
        exchange = answer.exchange(url, recorded_at, body, cut)
        return await interpret(answer, url, body=body, unreadable=unreadable), exchange
