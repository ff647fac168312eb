"""RSS 2.0 and Atom feeds: a blog, a Mastodon account (``@user.rss``), a Bluesky profile.

Each item is a post and its link the post's permalink.  Links come from the HTML
content's ``href``s, never from the visible link text, which Mastodon shortens.
feedparser is always handed bytes: given a string it would fetch URLs itself,
around the address guard.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import feedparser

from ..extract import extract_text_parts
from ..models import ParseError, Post
from ..urls import normalise_url
from . import source
from .html import post_from_html

__all__ = ["parse_feed"]

_MASTODON_PROFILE = re.compile(r"^https?://(?P<host>[^/]+)/@(?P<user>[^/@?#]+)/?$")
_BLUESKY_PROFILE = re.compile(r"^https?://bsky\.app/profile/(?P<handle>[^/?#]+)")


def _is_feed(name: str, head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:2048].lower()
    if start.startswith(b"<?xml"):
        return any(tag in start for tag in (b"<rss", b"<feed", b"<rdf:rdf"))
    return start.startswith((b"<rss", b"<feed", b"<rdf:rdf"))


@source("feed", detect=_is_feed)
def parse_feed(data: bytes, *, source: str) -> Iterator[Post]:
    """An RSS or Atom feed: a blog, a Mastodon account or a Bluesky profile."""
    parsed = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=False)
    if not parsed.get("version") and not parsed.get("entries"):
        problem = parsed.get("bozo_exception")
        raise ParseError(f"{source}: not an RSS or Atom feed" + (f" ({problem})" if problem else ""))
    feed = parsed.get("feed", {})
    platform, handle = _platform(feed)
    author = _display_name(_string(feed.get("title")), handle) if platform != "web" else None
    for entry in parsed.get("entries", []):
        post = _entry_post(entry, source=source, platform=platform, handle=handle, author=author)
        if post is not None:
            yield post


def _platform(feed: Any) -> tuple[str, str | None]:
    link = _string(feed.get("link"))
    generator = _string(feed.get("generator")).lower()
    mastodon = _MASTODON_PROFILE.match(link)
    if mastodon:
        return "mastodon", f"{mastodon.group('user')}@{mastodon.group('host')}"
    bluesky = _BLUESKY_PROFILE.match(link)
    if bluesky:
        return "bluesky", bluesky.group("handle")
    if "mastodon" in generator:
        return "mastodon", None
    return "web", None


def _entry_post(
    entry: Any, *, source: str, platform: str, handle: str | None, author: str | None
) -> Post | None:
    link = normalise_url(_string(entry.get("link"))) if _string(entry.get("link")) else None
    title = _string(entry.get("title")).strip()
    body, kind = _body(entry)
    if kind == "text/plain":
        text = body.strip()
        parts = extract_text_parts(text)
        links, hashtags, mentions = parts.links, parts.hashtags, parts.mentions
    else:
        html_post = post_from_html(body, base=link)
        text, links, hashtags, mentions = (
            html_post.text,
            html_post.links,
            html_post.hashtags,
            html_post.mentions,
        )
    if platform == "web" and title and not text.startswith(title):
        text = f"{title}\n\n{text}".strip()
    if not text and not link:
        return None
    tags = tuple(_string(t.get("term")).lstrip("#") for t in entry.get("tags", []) if _string(t.get("term")))
    post_id = _string(entry.get("id")) or link or _hash(source, title, text)
    return Post(
        id=post_id,
        platform=platform,
        author_name=_string((entry.get("author_detail") or {}).get("name"))
        or _string(entry.get("author"))
        or author,
        author_handle=handle,
        text=text,
        posted_at=_timestamp(entry),
        url=link,
        source=source,
        hashtags=tuple(dict.fromkeys((*hashtags, *tags))),
        mentions=mentions,
        links=links,
    )


def _display_name(title: str, handle: str | None) -> str | None:
    """Return the display name in a profile feed's title ("@handle - Name" on Bluesky)."""
    if handle and title.startswith(f"@{handle}"):
        title = title[len(handle) + 1 :].lstrip(" -\u2013\u2014:")
    return title.strip() or None


def _body(entry: Any) -> tuple[str, str]:
    for content in entry.get("content", []) or []:
        if _string(content.get("value")):
            return content["value"], _string(content.get("type")) or "text/html"
    detail = entry.get("summary_detail") or {}
    return _string(entry.get("summary")), _string(detail.get("type")) or "text/html"


def _timestamp(entry: Any) -> str | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                moment = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


def _hash(*parts: str) -> str:
    return "h" + hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:20]


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""
