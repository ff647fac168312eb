"""Pages with embedded posts: a blog page saved as text or as HTML.

Embedded tweets are recognised by their attribution line, ``— Name (@handle)
May 16, 2024``, in text, and by ``<blockquote class="twitter-tweet">`` in HTML.
The tweet's text is what stands before the attribution (on the same line, or the
line above it) together with the bare-link lines just above that, which is how a
tweet whose link card was rendered first looks once copied.  Everything else on
the page is kept as one post with platform ``web``, so its links are kept too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ..extract import (
    MAX_TEXT_LENGTH,
    TextParts,
    anchor_links,
    extract_links,
    extract_text_parts,
    merge_links,
    parse_html,
    render,
)
from ..models import FoundLink, ParseError, Platform, Post, SourceFormat
from ..urls import hostname, normalise_url
from . import is_url, source
from .attribution import Attribution, find_attribution
from .records import stable_id

__all__ = ["parse_page"]

_LINK_ONLY_LINE = re.compile(r"^\s*(?:(?:https?://|pic\.twitter\.com/)\S+\s*)+$", re.IGNORECASE)
_STATUS_ID = re.compile(r"/status(?:es)?/(\d+)")


def _looks_like_html(name: str, head: bytes) -> bool:
    lowered = head[:4096].lower()
    return name.lower().endswith((".html", ".htm", ".xhtml")) or any(
        marker in lowered
        for marker in (b"<html", b"<!doctype html", b"<body", b"<blockquote", b"<p>", b"<div")
    )


# Files whose names say they hold data or code, never a page someone wrote.
_NOT_PAGES = (".js", ".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".xml", ".rss", ".atom", ".sqlite", ".db")
_LEADING_COMMENTS = re.compile(rb"^(?:\s*<!--.*?-->)+", re.DOTALL)
# Control characters that text never holds (tab, line breaks and form feed aside).
_BINARY = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def _looks_like_page(name: str, head: bytes) -> bool:
    """Any text that is not one of the structured formats (JSON, XML, scripts, binary) is a page."""
    if name.lower().endswith(_NOT_PAGES) or _BINARY.search(head[:4096]):
        return False
    # Comments first are common in saved HTML pages ("<!-- saved from url=… -->") and
    # in XML documents alike: what follows them tells.
    start = _LEADING_COMMENTS.sub(b"", head.removeprefix(b"\xef\xbb\xbf")).lstrip()[:64].lower()
    return bool(start) and not start.startswith(
        (b"{", b"[", b"<?xml", b"<rss", b"<feed", b"window.", b"var ")
    )


@source(SourceFormat.PAGE, detect=_looks_like_page)
def parse_page(data: bytes, *, source: str) -> Iterator[Post]:
    """A text or HTML page with embedded tweets (the attribution line marks each one)."""
    if _BINARY.search(data[:65536]):
        raise ParseError(f"{source}: binary data, not a text or HTML page")
    text = data.decode("utf-8-sig", errors="replace")
    posts = (
        _parse_html(text, source=source)
        if _looks_like_html(source, data[:4096])
        else _parse_text_with_markup(text, source=source)
    )
    # A page's claim that it shows a tweet or toot holds within the page only.
    for post in posts:
        yield replace(post, id_scope=source)


# -- text ----------------------------------------------------------------------------


@dataclass
class _Block:
    start: int
    end: int  # inclusive line index of the attribution
    lines: list[str] = field(default_factory=list)
    attribution: Attribution | None = None


def _parse_text(text: str, *, source: str, extra_links: tuple[FoundLink, ...]) -> Iterator[Post]:
    lines = text.splitlines()
    used = [False] * len(lines)
    for block in _find_blocks(lines):
        for i in range(block.start, block.end + 1):
            used[i] = True
        assert block.attribution is not None
        yield _tweet_post(block.lines, block.attribution, source=source, permalink=None, anchors=())
    rest = "\n".join(line for line, taken in zip(lines, used, strict=True) if not taken).strip()
    yield from _web_post(rest, source=source, extra_links=extra_links)


# Embed markup pasted into a text or Markdown file: the opening tag of an embed, with
# its class, within a bounded length.
_EMBED_TAG = re.compile(
    r"<(blockquote|iframe)\b[^>]{0,2000}?\b(?:twitter-tweet|bluesky-embed|mastodon-embed)\b[^>]{0,2000}>",
    re.I,
)
_SCRIPT_TAG = re.compile(r"<script\b[^>]{0,2000}>", re.I)


def _parse_text_with_markup(text: str, *, source: str) -> Iterator[Post]:
    """Read a text page whose embeds may be HTML markup pasted among its lines (Markdown)."""
    fragments, rest = _cut_embed_markup(text)
    if not fragments:
        yield from _parse_text(text, source=source, extra_links=())
        return
    tree = parse_html("\n".join(fragments))
    embeds = _Embeds()
    yield from _embedded_posts(tree, source=source, base=None, embeds=embeds)
    unread = render(tree.body) if tree.body is not None and embeds.unread else None
    extra = tuple(anchor_links(unread.anchors, base=None)) if unread else ()
    yield from _parse_text(rest + ("\n" + unread.text if unread else ""), source=source, extra_links=extra)
    embeds.check(source)


def _cut_embed_markup(text: str) -> tuple[list[str], str]:
    """Return the embeds' markup found in a text and the text without it (and its scripts)."""
    fragments: list[str] = []
    kept: list[str] = []
    position = 0
    while (opening := _EMBED_TAG.search(text, position)) is not None:
        closing = f"</{opening.group(1).lower()}>"
        end = _find_closing(text, closing, opening.end())
        if end < 0:
            break  # no end tag: the rest is text
        kept.append(text[position : opening.start()])
        fragments.append(text[opening.start() : end])
        position = end
    kept.append(text[position:])
    rest = "\n".join(kept)
    if fragments:
        rest = _cut_scripts(rest)
    return fragments, rest


def _find_closing(text: str, closing: str, start: int) -> int:
    """Return the end of the first ``closing`` tag after ``start`` (any case), or -1."""
    found = re.compile(re.escape(closing), re.I).search(text, start)
    return found.end() if found else -1


def _cut_scripts(text: str) -> str:
    parts = []
    position = 0
    while (script := _SCRIPT_TAG.search(text, position)) is not None:
        end = _find_closing(text, "</script>", script.end())
        if end < 0:
            break
        parts.append(text[position : script.start()])
        position = end
    parts.append(text[position:])
    return "".join(parts)


def _find_blocks(lines: list[str]) -> Iterator[_Block]:
    taken_until = -1
    for i, line in enumerate(lines):
        attribution = find_attribution(line)
        if attribution is None:
            continue
        before = line[: attribution.start].rstrip()
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
        yield _Block(start=start, end=i, lines=body, attribution=attribution)


def _tweet_post(
    lines: list[str],
    attribution: Attribution,
    *,
    source: str,
    permalink: str | None,
    anchors: tuple[FoundLink, ...],
    outside_anchors: str | None = None,
    platform: str = Platform.TWITTER,
) -> Post:
    text = "\n".join(line.strip() for line in lines).strip()
    # An embed's text was copied from a rendered tweet: its line breaks are lost.
    parts = extract_text_parts(text, glued=True, platform=platform)
    links = merge_links(
        anchors, extract_links(outside_anchors, glued=True) if outside_anchors is not None else parts.links
    )
    handle, name, posted_at = attribution.handle, attribution.name, attribution.date
    status = _STATUS_ID.search(permalink or "")
    post_id = status.group(1) if status else stable_id(Platform.TWITTER, handle, posted_at or "", text)
    return Post(
        id=post_id,
        platform=Platform.TWITTER,
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
    yield from _web_post_of(text, parts, source=source, extra_links=extra_links)
    if len(text) > MAX_TEXT_LENGTH:
        raise ParseError(
            f"{source}: the page's own text is {len(text):,} characters; only the first "
            f"{MAX_TEXT_LENGTH:,} were searched for links"
        )


def _web_post_of(
    text: str, parts: TextParts, *, source: str, extra_links: tuple[FoundLink, ...]
) -> Iterator[Post]:
    yield Post(
        id=stable_id(Platform.WEB, source, text),
        platform=Platform.WEB,
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


# -- HTML ----------------------------------------------------------------------------

# Bluesky and Twitter embeds differ only in these: the platform, the permalink's shape.
_EMBEDS = (
    ("blockquote.twitter-tweet", Platform.TWITTER),
    ("blockquote.bluesky-embed", Platform.BLUESKY),
)
_BLUESKY_POST = re.compile(r"^https://bsky\.app/profile/[^/]+/post/[^/?#]+")
_MASTODON_STATUS = re.compile(r"^(https://[^/]+/@[^/]+/\d+)")


def _parse_html(html: str, *, source: str) -> Iterator[Post]:
    tree = parse_html(html)
    root = tree.body or tree.root
    if root is None:
        return
    base = source if is_url(source) else None
    embeds = _Embeds()
    yield from _embedded_posts(tree, source=source, base=base, embeds=embeds)
    rendered = render(root)
    anchors = anchor_links(rendered.anchors, base=base)
    posts = list(_parse_text(rendered.text, source=source, extra_links=()))
    in_tweets = {link.url for post in posts if post.platform == Platform.TWITTER for link in post.links}
    for post in posts:
        if post.platform != Platform.WEB:
            yield post
    rest = next((p.text for p in posts if p.platform == Platform.WEB), "")
    yield from _web_post(rest, source=source, extra_links=tuple(a for a in anchors if a.url not in in_tweets))
    embeds.check(source)


@dataclass
class _Embeds:
    """How many embeds a page holds and how many of them could not be read."""

    found: int = 0
    unread: int = 0

    def check(self, source: str) -> None:
        """Raise ParseError, after the page's posts were given, when an embed was not read."""
        if self.unread:
            raise ParseError(
                f"{source}: {self.unread} of {self.found} embedded posts could not be read (no "
                "attribution line archiver recognises); their text and links are kept in the page's own post"
            )


def _embedded_posts(
    tree: LexborHTMLParser, *, source: str, base: str | None, embeds: _Embeds
) -> Iterator[Post]:
    """Yield the posts of a page's embeds and take each read one out of the page.

    An embed that cannot be read stays in the page, so its text and links are kept in
    the page's own post; ``embeds`` counts it.
    """
    for selector, platform in _EMBEDS:
        for quote in tree.css(selector):
            embeds.found += 1
            post = _blockquote_post(quote, platform=platform, source=source, base=base)
            if post is None:
                embeds.unread += 1
                continue
            quote.decompose()
            yield post
    for embed in tree.css("iframe.mastodon-embed, blockquote.mastodon-embed"):
        embeds.found += 1
        post = _mastodon_embed_post(embed, source=source)
        if post is None:
            embeds.unread += 1
            continue
        embed.decompose()
        yield post


def _blockquote_post(quote: LexborNode, *, platform: str, source: str, base: str | None) -> Post | None:
    rendered = render(quote)
    attribution = find_attribution(rendered.text)
    if attribution is None:
        return None
    permalink = None
    for anchor in reversed(rendered.anchors):
        href = normalise_url(anchor.href.split("?", 1)[0], base=base)
        if href and (_STATUS_ID.search(href) or _BLUESKY_POST.match(href)):
            permalink = href
            break
    cut = attribution.start
    anchors = tuple(
        link
        for link in anchor_links([a for a in rendered.anchors if a.start < cut], base=base)
        if link.url != permalink
    )
    post = _tweet_post(
        rendered.text[:cut].strip().splitlines(),
        attribution,
        source=source,
        permalink=permalink,
        anchors=anchors,
        outside_anchors=rendered.outside_anchors[:cut],
        platform=platform,
    )
    if platform == Platform.TWITTER:
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
                platform=Platform.MASTODON,
                author_name=None,
                author_handle=f"{user}@{hostname(status)}",
                text="",
                posted_at=None,
                url=status,
                source=source,
            )
    return None
