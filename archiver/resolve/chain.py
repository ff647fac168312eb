"""Following one link's chain, hop by hop: unwrapping, requests, and where the chain ends.

``Requester`` turns one URL into one interpreted answer, once a run, asked by an
``Asker`` (``hops.HopAsker`` here, or the owner of the URL's host on a cluster);
``ChainFollower`` walks a link's chain over it and records every hop in a
``Chain``, the one place a ``Resolution`` is built.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..http import (
    REDIRECT_STATUS,
    Chain,
    HopFailed,
    Interpreted,
    Onward,
    follow_chain,
    join_url,
    loop_key,
)
from ..models import Exchange, LinkStatus, Resolution, Via
from .answers import ANSWERS_BYTES, AnswerCache
from .hops import Asker
from .wrappers import unwrap

__all__ = ["ChainFollower", "Requester"]

# Takes the copy of one answer, and the link whose chain asked for it.
Keep = Callable[[Exchange, str | None], Awaitable[None]]


@dataclass
class Requester:
    """One URL's interpreted answer: asked once a run, by the asker that owns its host."""

    asker: Asker
    # Links that share a hop (two t.co links to one article) reuse the first answer.
    answers: AnswerCache = field(default_factory=lambda: AnswerCache(ANSWERS_BYTES))
    # With copies kept: each answer's exchange is handed over, with the link whose chain
    # asked for it, once the host's slot is free again.
    keep: Keep | None = None

    async def answer(self, url: str, link: str | None = None) -> Interpreted:
        """Return the answer for ``url``, or raise the HopFailed it came to."""
        key = loop_key(url)
        pending = self.answers.get(key)
        if pending is None:
            pending = self.answers.reserve(key)
            try:
                pending.set_result(await self._fetch(url, link))
            except HopFailed as failure:
                pending.set_exception(failure.copy())
            except BaseException:
                self.answers.forget(key)
                pending.cancel()
                raise
            self.answers.settled(key)
        try:
            return await asyncio.shield(pending)
        except HopFailed as failure:
            # The kept answer must not keep the frames it was raised through (25 KB a
            # failure, so 100,000 failing links took 770 MB): each caller gets a copy.
            failure.with_traceback(None)
            raise failure.copy() from None

    async def _fetch(self, url: str, link: str | None) -> Interpreted:
        interpreted, exchange = await self.asker.ask(url, copy=self.keep is not None)
        if exchange is not None and self.keep is not None:
            await self.keep(exchange, link)
        return interpreted


@dataclass
class ChainFollower:
    """Follows links' chains to their end, every hop recorded."""

    requester: Requester
    max_hops: int
    now: Callable[[], str]

    async def follow(self, url: str, start: str | None = None, *, of_link: bool = True) -> Resolution:
        """Return the resolution of one link; never raises for a failed link.

        ``start`` is an expansion the source itself recorded (a Twitter archive's
        expanded_url): the chain starts there, after a first hop with ``via``
        'expanded', and the shortener itself is not asked.  A known wrapper with its
        target in the URL (``wrappers.unwrap``) is a hop with ``via`` 'unwrapped',
        not requested either; its target is requested like any other hop.
        ``of_link=False`` (the probe's path that does not exist): its answers' copies
        are kept for no link.
        """
        chain = Chain(url, self.now())
        current = url
        if start and start != url:
            chain.add(url, None, Via.EXPANDED)
            chain.seen.add(loop_key(url))
            current = start
        link = url if of_link else None
        return await follow_chain(
            chain, current, lambda hop_url: self._hop(chain, hop_url, link), self.max_hops
        )

    async def _hop(self, chain: Chain, current: str, link: str | None) -> Onward | Resolution:
        """Where one URL of a link's chain leads: further, or to the link's resolution."""
        inner = unwrap(current)
        if inner is not None:
            # A wrapper with its target in the URL: followed without a request.
            return Onward(None, Via.UNWRAPPED, inner)
        try:
            answer = await self.requester.answer(current, link)
        except HopFailed as failure:
            chain.add(current, failure.http_status)
            # The last URL reached: one that answered, or one a redirect led to.
            reached = len(chain.hops) > 1 or failure.http_status is not None
            return chain.result(
                failure.status,
                final_url=current if reached else None,
                http_status=failure.http_status,
                error=failure.error,
                retry_after=failure.retry_after,
            )
        if answer.next_url is None:
            chain.add(current, answer.status_code)
            return _final(chain, current, answer)
        target, problem = join_url(current, answer.next_url, keep_fragment=answer.via == Via.LOCATION)
        return Onward(answer.status_code, answer.via, target, problem)


def _final(chain: Chain, current: str, answer: Interpreted) -> Resolution:
    """Return the resolution of a chain whose last answer points nowhere further."""
    ok = 200 <= answer.status_code < 300
    error = None
    if not ok:
        error = f"HTTP {answer.status_code}"
        if answer.status_code in REDIRECT_STATUS:
            error += " without a usable Location"
    return chain.result(
        LinkStatus.OK if ok else LinkStatus.HTTP_ERROR,
        final_url=current,
        http_status=answer.status_code,
        error=error,
        title=answer.title if ok else None,
        fingerprint=answer.fingerprint if ok else None,
    )
