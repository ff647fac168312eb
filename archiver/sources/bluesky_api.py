"""A Bluesky account through the public AppView, its whole history; whole links for feed items.

``https://bsky.app/profile/HANDLE`` is read with ``app.bsky.feed.getAuthorFeed``,
pages of 100 read back by ``cursor`` to the first post.  The API has no "since":
a later run reads from the top until it meets an item it read last time (or one
older than the newest read), so a run with nothing new costs one request.  A run
stopped in that catch-up reads it again from the top next time: nothing is skipped.

A Bluesky feed (RSS) shows a post's text only, where long links are cut; the
post's record, asked with ``app.bsky.feed.getPosts``, gives them whole.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from dataclasses import replace
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from ..extract import merge_links
from ..models import Platform, Post, SourceUnavailable
from .api import ApiAnswer, ApiClient
from .bluesky import feed_item_key, feed_item_post, feed_item_time, post_view_post
from .follow import Cursor, Page, read_each
from .records import mapping_of, text_of

__all__ = ["DEFAULT_BLUESKY_API", "BlueskyAuthorFeed", "complete_bluesky_links"]

DEFAULT_BLUESKY_API = "https://public.api.bsky.app"
PAGE_SIZE = 100
# getPosts takes at most this many posts a request.
POSTS_A_REQUEST = 25
# Items of the top of the feed kept to know it again on the next run.
KNOWN_ITEMS = 20
_PROFILE = re.compile(r"^/profile/(?P<actor>[^/?#]+)/?$")


class BlueskyAuthorFeed:
    """An account's posts and reposts, newest first, a page at a time."""

    def __init__(self, client: ApiClient, location: str, *, api: str = DEFAULT_BLUESKY_API) -> None:
        parts = urlsplit(location)
        profile = _PROFILE.match(parts.path) if parts.scheme in ("http", "https") else None
        if profile is None:
            raise SourceUnavailable(
                f"{location}: not a Bluesky profile address (https://bsky.app/profile/HANDLE)"
            )
        self.location = location
        self.actor = unquote(profile.group("actor"))
        self.feed_url = f"{api.rstrip('/')}/xrpc/app.bsky.feed.getAuthorFeed"
        self._client = client

    async def pages(self, cursor: Cursor) -> AsyncGenerator[Page, None]:
        cursor = cursor.started()
        if cursor.newest is not None:
            async for page in self._newer(cursor):
                cursor = page.cursor
                yield page
        while not cursor.whole:
            answer = await self._ask(cursor.back)
            items, onward = self._items(answer)
            page = self._page(items, cursor)
            whole = not items or onward is None or onward == cursor.back
            cursor = replace(
                page.cursor,
                back=cursor.back if whole else onward,
                whole=whole,
                **({} if cursor.newest is not None else self._top(items)),
            )
            yield replace(page, cursor=cursor)

    async def _newer(self, cursor: Cursor) -> AsyncGenerator[Page, None]:
        """Yield what came since the last read.

        Where the next run starts (``newest``, ``known``) moves with the last page only:
        a stop before it reads the top again rather than leave a gap.
        """
        known = set(cursor.known)
        since = cursor.newest or ""
        onward: str | None = None
        top: dict[str, Any] | None = None
        while True:
            answer = await self._ask(onward)
            items, onward = self._items(answer)
            if top is None:
                top = self._top(items)
            fresh: list[Any] = []
            met = False
            for item in items:
                when = feed_item_time(item)
                if feed_item_key(item) in known or (when is not None and when < since):
                    met = True
                    break
                fresh.append(item)
            page = self._page(fresh, cursor)
            cursor = page.cursor  # the times read; not yet where the next run starts
            if met or not items or onward is None:
                yield replace(page, cursor=replace(cursor, **top))
                return
            yield page

    def _top(self, items: list[Any]) -> dict[str, Any]:
        if not items:
            return {}
        times = [t for t in (feed_item_time(item) for item in items) if t]
        return {
            "newest": max(times) if times else None,
            "known": tuple(feed_item_key(item) for item in items[:KNOWN_ITEMS]),
        }

    def _page(self, items: list[Any], cursor: Cursor) -> Page:
        posts, skipped = read_each(items, lambda item: feed_item_post(item, source=self.location))
        return Page(posts, cursor.having_read(posts), skipped)

    async def _ask(self, onward: str | None) -> ApiAnswer:
        params: dict[str, str | int] = {"actor": self.actor, "limit": PAGE_SIZE}
        if onward:
            params["cursor"] = onward
        answer = await self._client.get(self.feed_url, params)
        if answer.status != 200:
            message = answer.error_message()
            if any(word in message for word in ("Takedown", "Suspended", "Deactivated")):
                raise SourceUnavailable(
                    f"{self.location}: the account is suspended or deactivated ({message})"
                )
            if "not found" in message.lower() or "InvalidRequest" in message:
                raise SourceUnavailable(f"{self.location}: no such account {self.actor} ({message})")
            raise SourceUnavailable(f"{self.location}: {message}")
        return answer

    def _items(self, answer: ApiAnswer) -> tuple[list[Any], str | None]:
        value = mapping_of(answer.json())
        feed = value.get("feed")
        if not isinstance(feed, list):
            raise SourceUnavailable(f"{answer.url}: not an author feed (no feed list)")
        onward = text_of(value.get("cursor")) or None
        return [item for item in feed if isinstance(item, dict)], onward


async def complete_bluesky_links(
    client: ApiClient, posts: list[Post], *, api: str = DEFAULT_BLUESKY_API
) -> list[Post]:
    """Return feed posts whose text showed a cut link with the whole links of their records.

    A post whose record cannot be had (the AppView fails or the post is deleted) is
    returned as it was, its cut link still ``truncated``.
    """
    wanted = [
        p.id
        for p in posts
        if p.platform == Platform.BLUESKY
        and p.id.startswith("at://")
        and any(link.truncated for link in p.links)
    ]
    records: dict[str, Post] = {}
    url = f"{api.rstrip('/')}/xrpc/app.bsky.feed.getPosts"
    for start in range(0, len(wanted), POSTS_A_REQUEST):
        batch = wanted[start : start + POSTS_A_REQUEST]
        query = "&".join(f"uris={quote(uri, safe='')}" for uri in batch)
        try:
            answer = await client.get(f"{url}?{query}")
            value = mapping_of(answer.json()) if answer.status == 200 else {}
        except SourceUnavailable:
            continue
        for view in value.get("posts") or []:
            try:
                post = post_view_post(view, source="")
            except Exception:  # noqa: BLE001 - a record that cannot be read leaves its post as it was
                post = None
            if post is not None:
                records[post.id] = post
    completed = []
    for post in posts:
        record = records.get(post.id)
        if record is None:
            completed.append(post)
            continue
        kept = [link for link in post.links if not link.truncated]
        completed.append(replace(post, links=merge_links(record.links, kept)))
    return completed
