"""Fetching a feed or page URL: conditional GET, redirects under the same guard and rules as links."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from ..clock import utc_now
from ..http import (
    REDIRECT_STATUS,
    Answer,
    BodyTooLarge,
    Chain,
    HTTPClient,
    Onward,
    Resolver,
    ResolverSettings,
    build_client,
    classify,
    follow_chain,
    get,
    join_url,
)
from ..models import Exchange, Resolution, SourceUnavailable, Via
from ..urls import normalise_url

__all__ = ["Fetched", "fetch_source"]

# A feed or page larger than this is not read: it is not a page of posts.
SOURCE_CAP = 32 * 1024 * 1024
# Of a redirect's body, what its copy keeps.
REDIRECT_COPY_CAP = 64 * 1024


@dataclass(frozen=True, slots=True)
class Fetched:
    """A feed or page as fetched: its body, or None when the server said it has not changed."""

    url: str  # where the redirects ended
    status_code: int
    body: bytes | None
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        """Return True when a conditional request was answered 304 Not Modified."""
        return self.status_code == 304


async def fetch_source(
    url: str,
    *,
    settings: ResolverSettings | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    resolver: Resolver | None = None,
    keep: Callable[[Exchange], None] | None = None,
) -> Fetched:
    """Return a feed or page URL's body, following redirects under the same guard as links.

    With ``etag`` / ``last_modified`` from the previous fetch the request is
    conditional, and a 304 costs no body.  Raises SourceUnavailable naming the URL
    and what went wrong.  ``keep`` takes a copy of every answer read (each redirect and
    the feed or page itself) for the run's WARC copies.
    """
    settings = settings or ResolverSettings()
    start = normalise_url(url)
    if start is None:
        raise SourceUnavailable(f"{url}: not a usable http(s) URL")
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    client = build_client(max_connections=settings.per_host, **settings.client_options(resolver))
    # Redirects are followed by the follower and the rules a link's chain follows.
    chain = Chain(url, utc_now())

    async def hop(hop_url: str) -> Onward | Fetched:
        try:
            return await _fetch_source_hop(client, hop_url, settings, headers, keep)
        except SourceUnavailable as ex:
            if not chain.hops:  # the URL itself, not a redirect's target
                raise
            raise SourceUnavailable(f"{url}: redirected to {ex}") from ex

    try:
        fetched = await follow_chain(chain, start, hop, settings.max_hops)
    finally:
        await client.aclose()
    if isinstance(fetched, Resolution):
        raise SourceUnavailable(f"{url}: {fetched.error}")
    return fetched


async def _fetch_source_hop(
    client: HTTPClient,
    url: str,
    settings: ResolverSettings,
    headers: dict[str, str],
    keep: Callable[[Exchange], None] | None = None,
) -> Fetched | Onward:
    """Return the source as fetched, or where its redirect points."""
    recorded_at = utc_now()

    def kept(answer: Answer, body: bytes, cut: bool) -> None:
        if keep is not None:
            keep(answer.exchange(url, recorded_at, body, cut))

    reason = settings.refusal(url)
    if reason:
        raise SourceUnavailable(f"{url}: refused: {reason}")
    try:
        async with asyncio.timeout(settings.timeout * 4), get(client, url, headers) as answer:
            targets = answer.locations
            status = answer.status
            if status in REDIRECT_STATUS and targets:
                if keep is not None:
                    with contextlib.suppress(BodyTooLarge):
                        kept(answer, *await answer.read(REDIRECT_COPY_CAP))
                target, problem = join_url(url, targets[0], keep_fragment=True)
                return Onward(status, Via.LOCATION, target, problem)
            validators = {
                "etag": answer.header("etag") or None,
                "last_modified": answer.header("last-modified") or None,
            }
            if status == 304:
                kept(answer, b"", False)
                return Fetched(url, status, None, **validators)
            body, cut = await answer.read(SOURCE_CAP)
            kept(answer, body, cut)
            if not 200 <= status < 300:
                raise SourceUnavailable(f"{url}: HTTP {status}")
    except SourceUnavailable:
        raise
    except TimeoutError as ex:
        raise SourceUnavailable(f"{url}: timed out") from ex
    except BodyTooLarge as ex:
        raise SourceUnavailable(f"{url}: {ex}") from ex
    except Exception as ex:  # noqa: BLE001 - reported by name, the run goes on
        failure = classify(ex)
        raise SourceUnavailable(f"{url}: {failure}") from ex
    if cut:
        raise SourceUnavailable(f"{url}: larger than {SOURCE_CAP} bytes")
    return Fetched(url, status, body, **validators)
