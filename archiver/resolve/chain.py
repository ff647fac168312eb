"""Following one link's chain, hop by hop: unwrapping, requests, and where the chain ends.

``Requester`` turns one URL into one interpreted answer (once a run, politely, with
retries); ``ChainFollower`` walks a link's chain over it and records every hop in a
``Chain``, the one place a ``Resolution`` is built.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ..http import HostClients
from ..models import Fingerprint, Hop, LinkStatus, Resolution, Via
from ..urls import hostname
from .answers import ANSWERS_BYTES, AnswerCache
from .outcomes import HopFailed, Interpreted, Transient, classify
from .politeness import HostLimiter
from .response import REDIRECT_STATUS, interpret, join_url, loop_key
from .retries import RETRYABLE_STATUS, parse_retry_after, with_retries
from .settings import ResolverSettings
from .wrappers import unwrap

__all__ = ["Chain", "ChainFollower", "Onward", "Requester", "end_of_chain", "follow_chain"]

Sleep = Callable[[float], Awaitable[None]]
# What a chain ends with when its last hop ends it (a Resolution, a fetched feed).
Ended = TypeVar("Ended")


@dataclass
class Chain:
    """The hops of one link's check so far, and the Resolution they come to."""

    url: str
    checked_at: str
    hops: list[Hop] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def add(self, url: str, status_code: int | None, via: Via | None = None) -> None:
        self.hops.append(Hop(url, status_code, via))

    def requested(self) -> str | None:
        """Return the last URL that was requested (not only unwrapped or refused)."""
        return next((h.url for h in reversed(self.hops) if h.status_code is not None), None)

    def result(
        self,
        status: LinkStatus,
        *,
        final_url: str | None,
        http_status: int | None = None,
        error: str | None = None,
        title: str | None = None,
        retry_after: float | None = None,
        fingerprint: Fingerprint | None = None,
    ) -> Resolution:
        return Resolution(
            url=self.url,
            status=status,
            hops=tuple(self.hops),
            checked_at=self.checked_at,
            http_status=http_status,
            final_url=final_url,
            error=error,
            title=title,
            retry_after=retry_after,
            fingerprint=fingerprint,
        )


@dataclass
class Requester:
    """One URL's interpreted answer: asked once a run, within the host's limits, with retries."""

    clients: HostClients
    settings: ResolverSettings
    limiter: HostLimiter
    sleep: Sleep
    # Links that share a hop (two t.co links to one article) reuse the first answer.
    answers: AnswerCache = field(default_factory=lambda: AnswerCache(ANSWERS_BYTES))

    async def answer(self, url: str) -> Interpreted:
        """Return the answer for ``url``, or raise the HopFailed it came to."""
        key = loop_key(url)
        pending = self.answers.get(key)
        if pending is None:
            pending = self.answers.reserve(key)
            try:
                pending.set_result(
                    await with_retries(
                        lambda: self._fetch(url),
                        attempts=self.settings.attempts,
                        max_wait=self.settings.max_retry_after,
                        sleep=self.sleep,
                    )
                )
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

    async def _fetch(self, url: str) -> Interpreted:
        """One GET of one URL: the status and where the response points next."""
        host = hostname(url)
        reason = self.settings.refusal(url)
        if reason:
            raise HopFailed(LinkStatus.BLOCKED, f"refused: {reason}")
        try:
            async with (
                self.limiter.slot(host),
                asyncio.timeout(self.settings.timeout),
                self.clients.get(host, url) as answer,
            ):
                if answer.status in RETRYABLE_STATUS:
                    self._retryable(host, answer.status, answer.header("retry-after"))
                return await interpret(answer, url)
        except (HopFailed, Transient):
            raise
        except TimeoutError as ex:
            raise Transient(
                f"no complete answer within {self.settings.timeout:g} s", status=LinkStatus.TIMEOUT
            ) from ex
        except Exception as ex:  # noqa: BLE001 - every other failure becomes a status
            raise classify(ex) from ex

    def _retryable(self, host: str, status: int, retry_after_header: str) -> None:
        """Raise for an answer worth another try, waiting as the host asks if the run can."""
        self.limiter.slow_down(
            host,
            status,
            parse_retry_after(retry_after_header),
            max_wait=self.settings.max_retry_after,
            deadline=self.settings.deadline,
        )


@dataclass
class ChainFollower:
    """Follows links' chains to their end, every hop recorded."""

    requester: Requester
    max_hops: int
    now: Callable[[], str]

    async def follow(self, url: str, start: str | None = None) -> Resolution:
        """Return the resolution of one link; never raises for a failed link.

        ``start`` is an expansion the source itself recorded (a Twitter archive's
        expanded_url): the chain starts there, after a first hop with ``via``
        'expanded', and the shortener itself is not asked.  A known wrapper with its
        target in the URL (``wrappers.unwrap``) is a hop with ``via`` 'unwrapped',
        not requested either; its target is requested like any other hop.
        """
        chain = Chain(url, self.now())
        current = url
        if start and start != url:
            chain.add(url, None, Via.EXPANDED)
            chain.seen.add(loop_key(url))
            current = start
        return await follow_chain(chain, current, lambda hop_url: self._hop(chain, hop_url), self.max_hops)

    async def _hop(self, chain: Chain, current: str) -> Onward | Resolution:
        """Where one URL of a link's chain leads: further, or to the link's resolution."""
        inner = unwrap(current)
        if inner is not None:
            # A wrapper with its target in the URL: followed without a request.
            return Onward(None, Via.UNWRAPPED, inner)
        try:
            answer = await self.requester.answer(current)
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


@dataclass(frozen=True, slots=True)
class Onward:
    """A hop that points further: recorded in the chain, then followed if the rules allow."""

    status_code: int | None
    via: Via | None
    target: str | None  # the next URL, absolute; None when it cannot be followed
    problem: str | None = None  # the raw target that could not be followed


async def follow_chain(
    chain: Chain, current: str, hop: Callable[[str], Awaitable[Onward | Ended]], max_hops: int
) -> Ended | Resolution:
    """Follow a chain from ``current`` until ``hop`` ends it or the chain's rules do.

    The one redirect follower: a link's chain and a feed's fetch both walk here.
    ``hop`` turns a URL into an ``Onward`` or into what the chain ends with; the
    rules of ``end_of_chain`` (unsupported target, loop, too many hops) end it as a
    ``Resolution``.
    """
    while True:
        chain.seen.add(loop_key(current))
        step = await hop(current)
        if not isinstance(step, Onward):
            return step
        chain.add(current, step.status_code, step.via)
        end = end_of_chain(chain, step.target, step.problem, step.status_code, max_hops)
        if end is not None:
            return end
        assert step.target is not None
        current = step.target


def end_of_chain(
    chain: Chain, target: str | None, problem: str | None, status_code: int | None, max_hops: int
) -> Resolution | None:
    """Return the resolution when a chain cannot go on to ``target``, or None to go on.

    The rules every redirect archiver follows (a link's, a feed's) obey: a target that is
    no http(s) URL ends it ``invalid``, one seen before ``redirect_loop``, one past
    ``max_hops`` ``too_many_redirects``.
    """
    last = chain.hops[-1].url
    if target is None:
        raw = (problem or "")[:2000]
        chain.add(raw, None)
        return chain.result(
            LinkStatus.INVALID,
            final_url=last,
            http_status=status_code,
            error=f"redirect to an unsupported URL: {raw}",
        )
    if loop_key(target) in chain.seen:
        return chain.result(
            LinkStatus.REDIRECT_LOOP,
            final_url=last,
            http_status=status_code,
            error=f"redirects back to {target}",
        )
    if len(chain.hops) > max_hops:
        # The refused next hop is the chain's last row, not its final URL: that is
        # the last URL actually requested (none, for a chain of wrappers alone).
        requested = chain.requested()
        chain.add(target, None)
        return chain.result(
            LinkStatus.TOO_MANY_REDIRECTS,
            final_url=requested,
            http_status=status_code,
            error=f"more than {max_hops} redirects",
        )
    return None


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
