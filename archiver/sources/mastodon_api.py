"""A Mastodon account or hashtag through the instance's public API, its whole history.

``https://HOST/@USER`` is read with ``GET /api/v1/accounts/lookup?acct=USER`` and then
``GET /api/v1/accounts/ID/statuses``; ``https://HOST/tags/TAG`` with
``GET /api/v1/timelines/tag/TAG``.  Pages of 40 are read back with ``max_id`` (the
Link header's ``rel="next"``) to the first post; a later run asks with ``min_id``
for what came after the newest post read, a page at a time, so one request is all
a run with nothing new costs.

A status is a post: links from its HTML content's ``href``s (never the shortened
text Mastodon shows) and its link card, hashtags from ``tags``, mentions from
``mentions``; a boost is the booster's post carrying the boosted post's links.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from dataclasses import replace
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from ..extract import merge_links, post_from_html
from ..models import FoundBy, FoundLink, Platform, Post, SourceUnavailable
from ..urls import normalise_url
from .api import ApiAnswer, ApiClient
from .follow import Cursor, Page, read_each
from .records import mapping_of, text_of
from .timestamps import utc_timestamp

__all__ = ["MastodonTimeline", "status_post"]

# Statuses a page: the most the API gives.
PAGE_SIZE = 40
_ACCOUNT = re.compile(r"^/@(?P<acct>[^/?#@]+(?:@[^/?#@]+)?)/?$")
_TAG = re.compile(r"^/tags/(?P<tag>[^/?#]+)/?$")


def status_post(status: Any, *, source: str, instance: str) -> Post | None:
    """Return the post of one status (a boost: the booster's post of the boosted links), or None."""
    status = mapping_of(status)
    account = mapping_of(status.get("account"))
    handle = _acct(account, instance)
    name = text_of(account.get("display_name")).strip() or None
    boosted = status.get("reblog")
    if isinstance(boosted, dict):
        original = status_post(boosted, source=source, instance=instance)
        uri = text_of(status.get("uri")) or text_of(status.get("url"))
        if not uri:
            return None
        return Post(
            id=uri,
            platform=Platform.MASTODON,
            author_name=name,
            author_handle=handle,
            text=f"Boosted @{original.author_handle}: {original.text}" if original else "",
            posted_at=utc_timestamp(status.get("created_at")),
            url=original.url if original else None,
            source=source,
            hashtags=original.hashtags if original else (),
            mentions=original.mentions if original else (),
            links=original.links if original else (),
        )
    uri = text_of(status.get("uri")) or text_of(status.get("url"))
    if not uri:
        return None
    url = normalise_url(text_of(status.get("url"))) if text_of(status.get("url")) else None
    body = post_from_html(text_of(status.get("content")), base=url or uri, platform=Platform.MASTODON)
    spoiler = text_of(status.get("spoiler_text")).strip()
    card = text_of(mapping_of(status.get("card")).get("url")).strip()
    card_url = normalise_url(card) if card else None
    card_links = [FoundLink(card_url, card, FoundBy.ENTITY, 0)] if card_url else []
    tags = [text_of(mapping_of(t).get("name")) for t in _list(status.get("tags"))]
    mentions = [_acct(mapping_of(m), instance) for m in _list(status.get("mentions"))]
    return Post(
        id=uri,  # the ActivityPub id: the same post read from an account's archive export is one post
        platform=Platform.MASTODON,
        author_name=name,
        author_handle=handle,
        text=f"{spoiler}\n\n{body.text}".strip() if spoiler else body.text,
        posted_at=utc_timestamp(status.get("created_at")),
        url=url,
        source=source,
        hashtags=tuple(dict.fromkeys(t for t in tags if t)) or body.hashtags,
        mentions=tuple(dict.fromkeys(m for m in mentions if m)) or body.mentions,
        links=merge_links(body.links, card_links),
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _acct(account: dict[str, Any], instance: str) -> str | None:
    """Return ``user@server``: an account of the instance itself is shown as ``user`` alone."""
    acct = text_of(account.get("acct")) or text_of(account.get("username"))
    if not acct:
        return None
    if "@" in acct:
        return acct
    home = urlsplit(text_of(account.get("url"))).hostname if text_of(account.get("url")) else None
    return f"{acct}@{home or instance}"


class MastodonTimeline:
    """An account's statuses, or a hashtag's, read a page at a time."""

    def __init__(self, client: ApiClient, location: str) -> None:
        parts = urlsplit(location)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceUnavailable(f"{location}: not a Mastodon address (https://HOST/@USER or /tags/TAG)")
        self.location = location
        self.instance = parts.hostname
        self.origin = f"{parts.scheme}://{parts.netloc}"
        account = _ACCOUNT.match(parts.path)
        tag = _TAG.match(parts.path)
        if account is None and tag is None:
            raise SourceUnavailable(
                f"{location}: not a Mastodon account or hashtag address (https://HOST/@USER, https://HOST/tags/TAG)"
            )
        self.acct = account.group("acct") if account else None
        self.tag = unquote(tag.group("tag")) if tag else None
        self._client = client

    async def pages(self, cursor: Cursor) -> AsyncGenerator[Page, None]:
        cursor = cursor.started()
        statuses_url, account_id = await self._statuses_url(cursor)
        cursor = replace(cursor, target=account_id)
        if cursor.newest is not None:
            # What came after the newest status read, oldest page first: each page
            # moves ``newest`` on, so a stop in between leaves no gap.
            while True:
                answer = await self._ask(statuses_url, {"limit": PAGE_SIZE, "min_id": cursor.newest})
                statuses = self._statuses(answer)
                if not statuses:
                    break
                newest = answer.link_parameter("prev", "min_id") or _id(statuses[0])
                page = self._page(statuses, cursor)
                moved = newest is not None and newest != cursor.newest
                cursor = replace(page.cursor, newest=newest if moved else cursor.newest)
                yield replace(page, cursor=cursor)
                if not moved:
                    break
        while not cursor.whole:
            params: dict[str, str | int] = {"limit": PAGE_SIZE}
            if cursor.back:
                params["max_id"] = cursor.back
            answer = await self._ask(statuses_url, params)
            statuses = self._statuses(answer)
            page = self._page(statuses, cursor)
            back = answer.link_parameter("next", "max_id") or (_id(statuses[-1]) if statuses else None)
            whole = not statuses or back is None or back == cursor.back
            cursor = replace(
                page.cursor,
                newest=cursor.newest or (_id(statuses[0]) if statuses else None),
                back=cursor.back if whole else back,
                whole=whole,
            )
            yield replace(page, cursor=cursor)

    async def _statuses_url(self, cursor: Cursor) -> tuple[str, str | None]:
        """Return the address of the statuses, and the account's id (looked up once, then kept)."""
        if self.tag is not None:
            return f"{self.origin}/api/v1/timelines/tag/{quote(self.tag, safe='')}", None
        account_id = cursor.target
        if not account_id:
            answer = await self._ask(f"{self.origin}/api/v1/accounts/lookup", {"acct": self.acct or ""})
            account = mapping_of(answer.json())
            account_id = text_of(account.get("id")) or (
                str(account["id"]) if isinstance(account.get("id"), int) else ""
            )
            if not account_id:
                raise SourceUnavailable(f"{self.location}: the instance gave no account id for {self.acct}")
        return f"{self.origin}/api/v1/accounts/{quote(account_id, safe='')}/statuses", account_id

    async def _ask(self, url: str, params: dict[str, str | int]) -> ApiAnswer:
        answer = await self._client.get(url, params)
        if answer.status == 200:
            return answer
        what = f"@{self.acct}" if self.acct else f"#{self.tag}"
        if answer.status == 404:
            raise SourceUnavailable(
                f"{self.location}: no such account or tag {what} ({answer.error_message()})"
            )
        if answer.status == 410:
            raise SourceUnavailable(
                f"{self.location}: {what} is suspended or gone ({answer.error_message()})"
            )
        if answer.status in (401, 403, 422):
            raise SourceUnavailable(
                f"{self.location}: the instance asks for a login to read {what} ({answer.error_message()}); "
                f"set ARCHIVER_MASTODON_TOKEN={self.instance}=TOKEN"
            )
        if 300 <= answer.status < 400:
            raise SourceUnavailable(
                f"{self.location}: the API answered a redirect ({answer.error_message()})"
            )
        raise SourceUnavailable(f"{self.location}: {answer.error_message()}")

    def _statuses(self, answer: ApiAnswer) -> list[dict[str, Any]]:
        value = answer.json()
        if not isinstance(value, list):
            raise SourceUnavailable(f"{answer.url}: not a list of statuses")
        return [s for s in value if isinstance(s, dict)]

    def _page(self, statuses: list[dict[str, Any]], cursor: Cursor) -> Page:
        posts, skipped = read_each(
            statuses, lambda s: status_post(s, source=self.location, instance=self.instance)
        )
        return Page(posts, cursor.having_read(posts), skipped)


def _id(status: dict[str, Any]) -> str | None:
    value = status.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None
