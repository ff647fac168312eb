"""Reading HTML: visible text, the anchors in it, and the links a post's markup holds."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ..models import FoundBy, FoundLink
from ..urls import normalise_url
from .links import extract_links, extract_text_parts
from .nesting import MAX_DEPTH, cap_nesting

__all__ = [
    "Anchor",
    "HTMLTree",
    "INVISIBLE_TAGS",
    "HtmlPost",
    "Rendered",
    "anchor_links",
    "merge_links",
    "parse_html",
    "post_from_html",
    "render",
]

_BLOCK_TAGS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption"),
        *("figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main"),
        *("nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"),
    }
)
# Elements whose text a reader never sees.
INVISIBLE_TAGS = frozenset({"script", "style", "noscript", "template", "head", "svg", "iframe"})
# Mastodon hides the middle of long link texts in these spans; the href is the link.
_INVISIBLE_CLASSES = frozenset({"invisible"})


@dataclass(frozen=True, slots=True)
class Anchor:
    """An ``<a href>`` in rendered text: where it starts, where it points, what it shows."""

    start: int
    href: str
    text: str
    classes: str
    rel: str


@dataclass(frozen=True, slots=True)
class Rendered:
    """The visible text of some HTML and the anchors in it."""

    text: str
    outside_anchors: str  # the same text with every anchor's content blanked out
    anchors: tuple[Anchor, ...]


@dataclass(frozen=True, slots=True)
class HtmlPost:
    """The parts of a post written in HTML."""

    text: str
    links: tuple[FoundLink, ...]
    hashtags: tuple[str, ...]
    mentions: tuple[str, ...]


# A parsed document, as parse_html returns it.
HTMLTree = LexborHTMLParser


def parse_html(html: str) -> LexborHTMLParser:
    """Return the parsed document, its elements nested at most MAX_DEPTH deep."""
    # A page of so few tags cannot nest past the cap, whatever the parser adds.
    few = html.count("<") <= MAX_DEPTH // 4
    return LexborHTMLParser(html if few else cap_nesting(html))


def render(root: LexborNode) -> Rendered:
    """Return the visible text of an element, with line breaks where blocks end."""
    text: list[str] = []
    outside: list[str] = []
    spans: list[tuple[int, int, str, str, str]] = []
    length = 0
    # An explicit stack rather than recursion: a hostile page can nest deeper than
    # Python's recursion limit.  Entries are a node, or a marker that closes one.
    stack: list[tuple[LexborNode | str, bool]] = [(root, False)]
    open_anchors: list[tuple[int, str, str, str]] = []
    while stack:
        node, in_anchor = stack.pop()
        if isinstance(node, str):
            if node == "</a>":
                start, href, classes, rel = open_anchors.pop()
                spans.append((start, length, href, classes, rel))
                continue
            chunk = node
        elif node.is_text_node:
            chunk = re.sub(r"[ \t\r\f\v\n]+", " ", node.text_content or "")
        else:
            tag = node.tag or ""
            if tag in INVISIBLE_TAGS or (tag.startswith("-") and tag != "-document"):
                continue  # scripts, styles, comments
            if set((node.attributes.get("class") or "").split()) & _INVISIBLE_CLASSES:
                continue
            if tag == "br":
                chunk = "\n"
            else:
                _push_children(stack, node, tag, in_anchor, open_anchors, length)
                continue
        text.append(chunk)
        outside.append(" " * len(chunk) if in_anchor and chunk != "\n" else chunk)
        length += len(chunk)
    joined = "".join(text)
    anchors = tuple(
        Anchor(start, href, joined[start:end], classes, rel)
        for start, end, href, classes, rel in sorted(spans)
    )
    return Rendered(text=joined, outside_anchors="".join(outside), anchors=anchors)


def _push_children(
    stack: list[tuple[LexborNode | str, bool]],
    node: LexborNode,
    tag: str,
    in_anchor: bool,
    open_anchors: list[tuple[int, str, str, str]],
    length: int,
) -> None:
    if tag == "a":
        attributes = node.attributes
        open_anchors.append(
            (
                length,
                (attributes.get("href") or "").strip(),
                attributes.get("class") or "",
                attributes.get("rel") or "",
            )
        )
        stack.append(("</a>", in_anchor))
    if tag in _BLOCK_TAGS:
        stack.append(("\n", in_anchor))
    if "ellipsis" in (node.attributes.get("class") or "").split():
        stack.append(("\u2026", in_anchor))  # what Mastodon's style sheet shows after the cut
    children = []
    child = node.first_child
    while child is not None:
        children.append((child, in_anchor or tag == "a"))
        child = child.next
    stack.extend(reversed(children))


def anchor_links(
    anchors: Iterator[Anchor] | tuple[Anchor, ...] | list[Anchor], *, base: str | None
) -> list[FoundLink]:
    """Return the links of anchors, leaving out mentions and hashtags rendered as links."""
    links: list[FoundLink] = []
    for anchor in anchors:
        shown = anchor.text.strip()
        if (
            shown.startswith(("@", "#", "\uff03"))
            or "mention" in anchor.classes.split()
            or "tag" in anchor.rel.split()
        ):
            continue
        url = normalise_url(anchor.href, base=base) if anchor.href else None
        if url is not None:
            links.append(
                FoundLink(url=url, display=shown or anchor.href, found_by=FoundBy.HREF, position=len(links))
            )
    return links


def merge_links(*groups: list[FoundLink] | tuple[FoundLink, ...]) -> tuple[FoundLink, ...]:
    """Return the links of every group without repeats, numbered in order.

    A link the text shows cut off (``https://t.co/aB3…``) is left out when another
    link of the post completes it (an entity or an anchor's ``href``).
    """
    cut = any(link.truncated for group in groups for link in group)
    whole = [link for group in groups for link in group if not link.truncated] if cut else []
    merged: dict[str, FoundLink] = {}
    for group in groups:
        for link in group:
            if link.truncated and any(_completes(other, link.url) for other in whole):
                continue
            if link.url not in merged:
                merged[link.url] = FoundLink(
                    url=link.url,
                    display=link.display,
                    found_by=link.found_by,
                    position=len(merged),
                    truncated=link.truncated,
                    expanded_url=link.expanded_url,
                )
    return tuple(merged.values())


def _completes(link: FoundLink, cut: str) -> bool:
    """Return True when ``link`` (or its expansion) begins with the cut-off URL ``cut``."""
    stem = _stem(cut)
    return any(url and _stem(url).startswith(stem) for url in (link.url, link.expanded_url))


def _stem(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return rest[4:] if rest.startswith("www.") else rest


def post_from_html(html: str, *, base: str | None = None, platform: str | None = None) -> HtmlPost:
    """Return the text, links, hashtags and mentions of a post whose body is HTML.

    Links come from the anchors' ``href`` (never their visible text, which Mastodon
    shortens) and from bare URLs written outside any anchor.
    """
    tree = parse_html(html)
    root = tree.body or tree.root
    if root is None:
        return HtmlPost("", (), (), ())
    rendered = render(root)
    text = "\n".join(line.strip() for line in rendered.text.strip().splitlines())
    text = re.sub(r"\n{3,}", "\n\n", text)
    parts = extract_text_parts(text, platform=platform)
    links = merge_links(anchor_links(rendered.anchors, base=base), extract_links(rendered.outside_anchors))
    return HtmlPost(text=text, links=links, hashtags=parts.hashtags, mentions=parts.mentions)
