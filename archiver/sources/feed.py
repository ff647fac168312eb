"""RSS 2.0 and Atom feeds: a blog, a Mastodon account (``@user.rss``), a Bluesky profile.

Each item is a post and its link the post's permalink.  Links come from the HTML
content's ``href``s, never from the visible link text, which Mastodon shortens.
feedparser is always handed bytes: given a string it would fetch URLs itself,
around the address guard.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import feedparser

from ..clock import format_utc
from ..extract import extract_text_parts, merge_links, post_from_html
from ..models import FoundBy, FoundLink, ParseError, Platform, Post, SourceFormat
from ..urls import normalise_url
from . import is_url, source
from .records import each_record, stable_id, text_of

__all__ = ["parse_feed"]

# Enough text to tell an encoding by; more only costs time.
MAX_DETECTION_BYTES = 256 * 1024
_MASTODON_PROFILE = re.compile(r"^https?://(?P<host>[^/]+)/@(?P<user>[^/@?#]+)/?$")
_BLUESKY_PROFILE = re.compile(r"^https?://bsky\.app/profile/(?P<handle>[^/?#]+)/?$")
# A hashtag (or list) feed: posts by many people, each named by its own link.
_MASTODON_TAG = re.compile(r"^https?://[^/]+/(?:tags|lists)/[^/?#]+")
_MASTODON_STATUS = re.compile(
    r"^https?://(?P<host>[^/]+)/(?:@(?P<user>[^/@?#]+)|users/(?P<user2>[^/?#]+)/statuses)/\d+"
)
_BLUESKY_POST = re.compile(r"^https?://bsky\.app/profile/(?P<handle>[^/?#]+)/post/")


# What may come before a feed's root element: white space, the XML declaration and
# other processing instructions, comments, a DOCTYPE (with an internal subset).
_PROLOG = re.compile(
    r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>)", re.DOTALL | re.IGNORECASE
)
_FEED_ROOT = re.compile(r"\s*<(?:[\w.-]+:)?(?:rss|feed|rdf)[\s>/]", re.IGNORECASE)


def _is_feed(name: str, head: bytes) -> bool:
    text = _decode_head(head)
    position = 0
    while (prolog := _PROLOG.match(text, position)) is not None and prolog.end() > position:
        position = prolog.end()
    return _FEED_ROOT.match(text, position) is not None


def _decode_head(head: bytes) -> str:
    """Return the start of an XML document as text, whatever its byte order mark."""
    for bom, codec in ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be")):
        if head.startswith(bom):
            return head[len(bom) : len(bom) + 4096 - len(head) % 4].decode(codec, errors="replace")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head[: 4096 - len(head) % 2].decode("utf-16", errors="replace")
    # Without a byte order mark, the zero bytes around the first "<" tell the encoding.
    for start, codec, width in (
        (b"\x00\x00\x00<", "utf-32-be", 4),
        (b"<\x00\x00\x00", "utf-32-le", 4),
        (b"\x00<", "utf-16-be", 2),
        (b"<\x00", "utf-16-le", 2),
    ):
        if head.startswith(start):
            return head[: 4096 - 4096 % width].decode(codec, errors="replace")
    return head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")


@source(SourceFormat.FEED, detect=_is_feed)
def parse_feed(data: bytes, *, source: str) -> Iterator[Post]:
    """An RSS or Atom feed: a blog, a Mastodon account or a Bluesky profile."""
    feed_url = source if is_url(source) else None
    # The feed's own URL is the base of last resort for relative links (given as the
    # header feedparser reads it from; it never fetches anything when handed bytes).
    headers = {"content-location": feed_url} if feed_url else {}
    # No sanitizing: archiver keeps text and links, never a feed's HTML, and reads the
    # HTML itself as a browser would (scripts, styles and comments skipped).  The
    # sanitizer's search for the end of an unclosed "<!--" is quadratic (13 s for a
    # 700 KB item), and it keeps the text of elements a browser never shows.
    parsed = feedparser.parse(
        _as_utf8(data), sanitize_html=False, resolve_relative_uris=False, response_headers=headers
    )
    if not parsed.get("version") and not parsed.get("entries"):
        problem = parsed.get("bozo_exception")
        raise ParseError(f"{source}: not an RSS or Atom feed" + (f" ({problem})" if problem else ""))
    feed = parsed.get("feed", {})
    platform, handle = _platform(feed)
    feed_title = _plain(text_of(feed.get("title")), feed.get("title_detail"))
    author = _display_name(feed_title, handle) if platform != Platform.WEB else None

    def read(entry: Any) -> Post | None:
        return _entry_post(
            entry, source=source, platform=platform, handle=handle, author=author, feed_url=feed_url
        )

    yield from each_record(parsed.get("entries", []), read, source=source)


# An encoding declared in the XML declaration.
_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]{0,200}?encoding\s*=", re.IGNORECASE)


def _as_utf8(data: bytes) -> bytes:
    """Return a feed's bytes, re-encoded as UTF-8 when it declares no encoding and is not UTF-8.

    feedparser reads an undeclared encoding as UTF-8 and then as Windows-1252, which
    turns a KOI8-R or Shift_JIS feed into mojibake; the encoding is detected instead.
    """
    head = data[:4]
    if head.startswith(
        (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00", b"<\x00")
    ) or _DECLARED_ENCODING.match(data[:256]):
        return data
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        pass
    # Imported here: it costs 30 ms at start-up and few feeds need it.
    import charset_normalizer

    best = charset_normalizer.from_bytes(data[:MAX_DETECTION_BYTES]).best()
    if best is None:
        return data
    return data.decode(best.encoding, errors="replace").encode("utf-8")


def _platform(feed: Any) -> tuple[str, str | None]:
    link = text_of(feed.get("link"))
    generator = text_of(feed.get("generator")).lower()
    mastodon = _MASTODON_PROFILE.match(link)
    if mastodon:
        return Platform.MASTODON, f"{mastodon.group('user')}@{mastodon.group('host')}"
    bluesky = _BLUESKY_PROFILE.match(link)
    if bluesky:
        return Platform.BLUESKY, bluesky.group("handle")
    if "mastodon" in generator or _MASTODON_TAG.match(link):
        return Platform.MASTODON, None
    if link.startswith(("https://bsky.app/", "http://bsky.app/")):
        return Platform.BLUESKY, None
    return Platform.WEB, None


def _author_of(link: str | None, platform: str) -> str | None:
    """Return the handle in a Mastodon or Bluesky post's link (``user@host``, ``name.bsky.social``)."""
    if link is None or platform == Platform.WEB:
        return None
    status = _MASTODON_STATUS.match(link)
    if platform == Platform.MASTODON and status:
        return f"{status.group('user') or status.group('user2')}@{status.group('host')}"
    post = _BLUESKY_POST.match(link)
    if platform == Platform.BLUESKY and post:
        return post.group("handle")
    return None


def _entry_post(
    entry: Any, *, source: str, platform: str, handle: str | None, author: str | None, feed_url: str | None
) -> Post | None:
    link = normalise_url(text_of(entry.get("link")), base=feed_url) if text_of(entry.get("link")) else None
    raw_title = text_of(entry.get("title")).strip()
    title = _plain(raw_title, entry.get("title_detail"))
    body, kind, xml_base = _body(entry)
    if kind == "text/plain":
        text = body.strip()
        parts = extract_text_parts(text, platform=platform)
        links, hashtags, mentions = parts.links, parts.hashtags, parts.mentions
    else:
        # Relative links: against xml:base where one is in effect, then the item's link,
        # then the feed's URL.
        base = xml_base if xml_base and xml_base != feed_url else (link or feed_url)
        html_post = post_from_html(body, base=base, platform=platform)
        text, links, hashtags, mentions = (
            html_post.text,
            html_post.links,
            html_post.hashtags,
            html_post.mentions,
        )
    # Atom's out-of-line content (<content src="URL"/>): the entry's body is that URL.
    elsewhere = _out_of_line(entry, base=xml_base or link or feed_url)
    if elsewhere is not None:
        links = merge_links([elsewhere], links)
        link = link or elsewhere.url
    if platform == Platform.WEB and title and not text.startswith(title):
        text = f"{title}\n\n{text}".strip()
    entry_id = text_of(entry.get("id"))
    if not text and not link and not entry_id:
        return None  # an item with nothing in it
    tags = tuple(text_of(t.get("term")).lstrip("#") for t in entry.get("tags", []) if text_of(t.get("term")))
    post_id = entry_id or link or stable_id(source, raw_title, text)
    # In a hashtag or list feed each post names its own author; the feed's title is
    # the author only of the posts of a profile's own feed.
    post_handle = _author_of(link, platform) or handle
    return Post(
        id=post_id,
        platform=platform,
        author_name=text_of((entry.get("author_detail") or {}).get("name"))
        or text_of(entry.get("author"))
        or (author if post_handle == handle else None),
        author_handle=post_handle,
        text=text,
        posted_at=_timestamp(entry),
        url=link,
        source=source,
        hashtags=tuple(dict.fromkeys((*hashtags, *tags))),
        mentions=mentions,
        links=links,
        id_scope=source,  # a guid is the feed's own claim: it holds within the feed
    )


def _out_of_line(entry: Any, *, base: str | None) -> FoundLink | None:
    """Return the link of an entry whose content is elsewhere (RFC 4287, 4.1.3.2), or None."""
    for content in entry.get("content", []) or []:
        where = text_of(content.get("src")).strip() if isinstance(content, dict) else ""
        url = normalise_url(where, base=base) if where else None
        if url is not None:
            return FoundLink(url=url, display=where, found_by=FoundBy.HREF, position=0)
    return None


def _plain(value: str, detail: Any) -> str:
    """Return a title as text: one given as HTML (Atom's type="html") is rendered as a browser would."""
    kind = text_of((detail or {}).get("type")) if isinstance(detail, dict) else ""
    if "html" not in kind or "<" not in value and "&" not in value:
        return value
    return post_from_html(value).text.strip()


def _display_name(title: str, handle: str | None) -> str | None:
    """Return the display name in a profile feed's title ("@handle - Name" on Bluesky)."""
    if handle and title.startswith(f"@{handle}"):
        title = title[len(handle) + 1 :].lstrip(" -\u2013\u2014:")
    return title.strip() or None


def _body(entry: Any) -> tuple[str, str, str]:
    """Return an entry's body, its media type and the xml:base in effect for it."""
    for content in entry.get("content", []) or []:
        if text_of(content.get("value")):
            return content["value"], text_of(content.get("type")) or "text/html", text_of(content.get("base"))
    detail = entry.get("summary_detail") or {}
    return (
        text_of(entry.get("summary")),
        text_of(detail.get("type")) or "text/html",
        text_of(detail.get("base")),
    )


def _timestamp(entry: Any) -> str | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                moment = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
            return format_utc(moment)
    return None
