"""Pages with embedded posts: a blog page saved as text or as HTML.

Embedded tweets are recognised by their attribution line, ``— Name (@handle)
May 16, 2024``, in text, and by ``<blockquote class="twitter-tweet">`` in HTML.
The tweet's text is what stands before the attribution (on the same line, or the
line above it) together with the bare-link lines just above that, which is how a
tweet whose link card was rendered first looks once copied.  Everything else on
the page is kept as one post with platform ``web``, so its links are kept too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from selectolax.lexbor import LexborNode

from ..extract import extract_links, extract_text_parts
from ..models import FoundLink, ParseError, Post
from ..urls import hostname, normalise_url
from . import is_url, source
from .html import anchor_links, merge_links, parse_html, render

__all__ = ["parse_page"]

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}

_ATTRIBUTION = re.compile(
    r"(?:\u2014|\u2013|&mdash;|--?)\s*"
    r"(?P<name>[^\n()\u2014\u2013]{0,100}?)\s*"
    r"\(@(?P<handle>[A-Za-z0-9_][A-Za-z0-9_.-]{0,252})\)\s*"
    r"(?P<month>[A-Za-z]{3,9})\.?\s+(?P<day>\d{1,2}),\s*(?P<year>\d{4})"
    r"(?:,?\s+at\s+\d{1,2}:\d{2}(?:\s*[AP]M)?)?\s*$"
)
_LINK_ONLY_LINE = re.compile(r"^\s*(?:(?:https?://|pic\.twitter\.com/)\S+\s*)+$", re.IGNORECASE)
_STATUS_ID = re.compile(r"/status(?:es)?/(\d+)")


def _looks_like_html(name: str, head: bytes) -> bool:
    lowered = head[:4096].lower()
    return name.lower().endswith((".html", ".htm", ".xhtml")) or any(
        marker in lowered
        for marker in (b"<html", b"<!doctype html", b"<body", b"<blockquote", b"<p>", b"<div")
    )


def _looks_like_page(name: str, head: bytes) -> bool:
    """Any text that is not one of the structured formats (JSON, XML feeds) is a page."""
    if b"\x00" in head[:4096]:
        return False
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
    return not start.startswith((b"{", b"[", b"<?xml", b"<rss", b"<feed", b"window.ytd"))


@source("page", detect=_looks_like_page)
def parse_page(data: bytes, *, source: str) -> Iterator[Post]:
    """A text or HTML page with embedded tweets (the attribution line marks each one)."""
    if b"\x00" in data[:65536]:
        raise ParseError(f"{source}: binary data, not a text or HTML page")
    text = data.decode("utf-8-sig", errors="replace")
    if _looks_like_html(source, data[:4096]):
        yield from _parse_html(text, source=source)
    else:
        yield from _parse_text(text, source=source, extra_links=())


# -- text ----------------------------------------------------------------------------


@dataclass
class _Block:
    start: int
    end: int  # inclusive line index of the attribution
    lines: list[str] = field(default_factory=list)
    match: re.Match[str] | None = None


def _parse_text(text: str, *, source: str, extra_links: tuple[FoundLink, ...]) -> Iterator[Post]:
    lines = text.splitlines()
    used = [False] * len(lines)
    for block in _find_blocks(lines):
        for i in range(block.start, block.end + 1):
            used[i] = True
        assert block.match is not None
        yield _tweet_post(block.lines, block.match, source=source, permalink=None, anchors=())
    rest = "\n".join(line for line, taken in zip(lines, used, strict=True) if not taken).strip()
    yield from _web_post(rest, source=source, extra_links=extra_links)


def _find_blocks(lines: list[str]) -> Iterator[_Block]:
    taken_until = -1
    for i, line in enumerate(lines):
        match = _ATTRIBUTION.search(line)
        if not match or _month(match) is None:
            continue
        before = line[: match.start()].rstrip()
        if before:
            start, body = i, [before]
        else:
            j = i - 1
            while j > taken_until and not lines[j].strip():
                j -= 1
            if j <= taken_until:
                continue  # an attribution with no text of its own: leave it to the page
            start, body = j, [lines[j]]
        while start - 1 > taken_until and _LINK_ONLY_LINE.match(lines[start - 1]):
            start -= 1
            body.insert(0, lines[start])
        taken_until = i
        yield _Block(start=start, end=i, lines=body, match=match)


def _month(match: re.Match[str]) -> int | None:
    return _MONTHS.get(match.group("month").lower())


def _posted_at(match: re.Match[str]) -> str | None:
    month, day, year = _month(match), int(match.group("day")), int(match.group("year"))
    if month is None or not 1 <= day <= 31:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def _tweet_post(
    lines: list[str],
    match: re.Match[str],
    *,
    source: str,
    permalink: str | None,
    anchors: tuple[FoundLink, ...],
    outside_anchors: str | None = None,
) -> Post:
    text = "\n".join(line.strip() for line in lines).strip()
    # An embed's text was copied from a rendered tweet: its line breaks are lost.
    parts = extract_text_parts(text, glued=True)
    links = merge_links(
        anchors, extract_links(outside_anchors, glued=True) if outside_anchors is not None else parts.links
    )
    handle = match.group("handle")
    name = match.group("name").strip() or None
    posted_at = _posted_at(match)
    status = _STATUS_ID.search(permalink or "")
    post_id = status.group(1) if status else _stable_id("twitter", handle, posted_at or "", text)
    return Post(
        id=post_id,
        platform="twitter",
        author_name=name,
        author_handle=handle,
        text=text,
        posted_at=posted_at,
        url=permalink,
        source=source,
        hashtags=parts.hashtags,
        mentions=parts.mentions,
        links=links,
    )


def _web_post(text: str, *, source: str, extra_links: tuple[FoundLink, ...]) -> Iterator[Post]:
    if not text.strip() and not extra_links:
        return
    parts = extract_text_parts(text)
    yield Post(
        id=_stable_id("web", source, text),
        platform="web",
        author_name=None,
        author_handle=None,
        text=text,
        posted_at=None,
        url=source if is_url(source) else None,
        source=source,
        hashtags=parts.hashtags,
        mentions=parts.mentions,
        links=merge_links(extra_links, parts.links),
    )


def _stable_id(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"h{digest[:20]}"


# -- HTML ----------------------------------------------------------------------------

# Bluesky and Twitter embeds differ only in these: the platform, the permalink's shape.
_EMBEDS = (
    ("blockquote.twitter-tweet", "twitter"),
    ("blockquote.bluesky-embed", "bluesky"),
)
_BLUESKY_POST = re.compile(r"^https://bsky\.app/profile/[^/]+/post/[^/?#]+")
_MASTODON_STATUS = re.compile(r"^(https://[^/]+/@[^/]+/\d+)")


def _parse_html(html: str, *, source: str) -> Iterator[Post]:
    tree = parse_html(html)
    root = tree.body or tree.root
    if root is None:
        return
    base = source if is_url(source) else None
    for selector, platform in _EMBEDS:
        for quote in tree.css(selector):
            post = _blockquote_post(quote, platform=platform, source=source, base=base)
            quote.decompose()
            if post is not None:
                yield post
    for embed in tree.css("iframe.mastodon-embed, blockquote.mastodon-embed"):
        post = _mastodon_embed_post(embed, source=source)
        embed.decompose()
        if post is not None:
            yield post
    rendered = render(root)
    anchors = anchor_links(rendered.anchors, base=base)
    posts = list(_parse_text(rendered.text, source=source, extra_links=()))
    in_tweets = {link.url for post in posts if post.platform == "twitter" for link in post.links}
    for post in posts:
        if post.platform != "web":
            yield post
    rest = next((p.text for p in posts if p.platform == "web"), "")
    yield from _web_post(rest, source=source, extra_links=tuple(a for a in anchors if a.url not in in_tweets))


def _blockquote_post(quote: LexborNode, *, platform: str, source: str, base: str | None) -> Post | None:
    rendered = render(quote)
    match = _ATTRIBUTION.search(rendered.text.rstrip())
    if match is None:
        return None
    permalink = None
    for anchor in reversed(rendered.anchors):
        href = normalise_url(anchor.href.split("?", 1)[0], base=base)
        if href and (_STATUS_ID.search(href) or _BLUESKY_POST.match(href)):
            permalink = href
            break
    cut = match.start()
    anchors = tuple(
        link
        for link in anchor_links([a for a in rendered.anchors if a.start < cut], base=base)
        if link.url != permalink
    )
    post = _tweet_post(
        rendered.text[:cut].strip().splitlines(),
        match,
        source=source,
        permalink=permalink,
        anchors=anchors,
        outside_anchors=rendered.outside_anchors[:cut],
    )
    if platform == "twitter":
        return post
    uri = (quote.attributes.get("data-bluesky-uri") or "").strip()
    return replace(post, platform=platform, id=uri or post.id)


def _mastodon_embed_post(embed: LexborNode, *, source: str) -> Post | None:
    attributes = embed.attributes
    candidates = [attributes.get("src") or "", attributes.get("data-embed-url") or ""]
    candidates += [a.attributes.get("href") or "" for a in embed.css("a")]
    for candidate in candidates:
        match = _MASTODON_STATUS.match(candidate.strip())
        if match:
            status = normalise_url(match.group(1))
            if status is None:
                continue
            user = status.rstrip("/").split("/")[-2].lstrip("@")
            return Post(
                id=status,
                platform="mastodon",
                author_name=None,
                author_handle=f"{user}@{hostname(status)}",
                text="",
                posted_at=None,
                url=status,
                source=source,
            )
    return None
