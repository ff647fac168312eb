"""The one redirect follower: a chain of hops, the rules that end it, and where a redirect points.

A link's chain (``resolve``) and a feed's fetch (``sources``) both walk ``follow_chain``:
each says what one hop comes to, the rules here (unsupported target, loop, too many
hops) end the chain as a ``Resolution``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

from ..models import Fingerprint, Hop, LinkStatus, Resolution, Via
from ..urls import normalise_url

__all__ = ["REDIRECT_STATUS", "Chain", "Onward", "end_of_chain", "follow_chain", "join_url", "loop_key"]

REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})

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


def join_url(current: str, target: str, *, keep_fragment: bool = False) -> tuple[str | None, str | None]:
    """Return the absolute next URL, or None and the raw target when it cannot be followed.

    With ``keep_fragment`` (a Location header), a target without a fragment inherits
    the current URL's, as a browser does (RFC 9110, section 10.2.2).
    """
    target = target.strip()
    if not target:
        return None, "(empty Location)"
    try:
        joined = urljoin(current, target)
    except ValueError:
        return None, target
    if keep_fragment and "#" in current and "#" not in target:
        joined = f"{joined}#{current.split('#', 1)[1]}"
    try:
        scheme = urlsplit(joined).scheme.lower() if ":" in joined else ""
    except ValueError:
        return None, target
    if scheme not in ("http", "https"):
        return None, target
    normalised = normalise_url(joined)
    if normalised is None:
        return None, target
    return normalised, None


def loop_key(url: str) -> str:
    """Return the URL a loop is recognised by: without its fragment."""
    return url.split("#", 1)[0]
