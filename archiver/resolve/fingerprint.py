"""What a page showed when it was checked: title, canonical URL, language and a similarity hash of its text.

A fingerprint is taken from the part of a page the resolver already reads (no extra
request, the same body cap).  Two fingerprints of one link tell whether its page
still shows what it showed (``text_distance``), and the same fields are the evidence
behind a verdict such as "soft 404" or "parked".
"""

from __future__ import annotations

import hashlib
import re

from ..extract import INVISIBLE_TAGS, HTMLTree, parse_html
from ..models import Fingerprint

__all__ = ["fingerprint", "simhash", "text_distance"]

# Texts of fewer words have no similarity hash: a few words say too little.
MIN_WORDS = 20
# Words hashed together: a feature of the text is each run of this many words.
SHINGLE = 3
# The words of the start of a page's text that are hashed: enough to tell one article
# from another, few enough to cost about a millisecond.
MAX_WORDS = 1000
# The visible text kept for the phrase rules (parking, "not found"): the start of a page.
EXCERPT_CHARS = 2000
_WORD = re.compile(r"\w+", re.UNICODE)
_SPACE = re.compile(r"\s+")
# One table a bit: maps a byte to 1 when that bit is set, so the bits of many hashes
# are counted by C loops (bytes.translate, bytes.count) instead of Python ones.
_BIT_SET = [bytes(1 if byte >> bit & 1 else 0 for byte in range(256)) for bit in range(8)]


def fingerprint(html: str) -> Fingerprint:
    """Return the fingerprint of a page's HTML (the part of it that was read)."""
    tree = parse_html(html)
    head_title = tree.css_first("title")
    heading = tree.css_first("h1")
    language = None
    html_node = tree.css_first("html")
    if html_node is not None:
        language = _clean(html_node.attributes.get("lang"), 35)
    canonical = _attribute(tree, 'link[rel~="canonical" i]', "href")
    og_title = _attribute(tree, 'meta[property="og:title" i]', "content")
    site_name = _attribute(tree, 'meta[property="og:site_name" i]', "content")
    tree.strip_tags(list(INVISIBLE_TAGS))
    root = tree.body or tree.root
    text = (root.text(separator=" ") or "") if root is not None else ""
    words = _WORD.findall(text.lower())
    return Fingerprint(
        title=_clean(head_title.text() if head_title is not None else None),
        heading=_clean(heading.text() if heading is not None else None),
        canonical_url=_clean(canonical, 2000),
        og_title=_clean(og_title),
        site_name=_clean(site_name),
        language=language.lower() if language else None,
        text_hash=simhash(words[:MAX_WORDS]),
        words=len(words),
        excerpt=_SPACE.sub(" ", text).strip()[:EXCERPT_CHARS],
    )


def simhash(words: list[str]) -> str | None:
    """Return the 64-bit simhash of a text's word shingles as 16 hex digits, or None if too short.

    Each run of SHINGLE words is hashed; a bit of the result is set when it is set in
    more than half of those hashes.  Texts that share most of their shingles differ in
    few bits; unrelated texts in about half of them.
    """
    if len(words) < MIN_WORDS:
        return None
    hashes = b"".join(
        hashlib.blake2b(" ".join(words[i : i + SHINGLE]).encode(), digest_size=8).digest()
        for i in range(len(words) - SHINGLE + 1)
    )
    count = len(hashes) // 8
    value = 0
    for byte_index in range(8):
        column = hashes[byte_index::8]
        for bit in range(8):
            if column.translate(_BIT_SET[bit]).count(1) * 2 > count:
                value |= 1 << (byte_index * 8 + bit)
    return f"{value:016x}"


def text_distance(first: str | None, second: str | None) -> int | None:
    """Return how many of 64 bits two similarity hashes differ in, or None if one is missing."""
    if not first or not second:
        return None
    try:
        return (int(first, 16) ^ int(second, 16)).bit_count()
    except ValueError:
        return None


def _attribute(tree: HTMLTree, selector: str, name: str) -> str | None:
    node = tree.css_first(selector)
    return None if node is None else node.attributes.get(name)


def _clean(value: str | None, limit: int = 500) -> str | None:
    if not value:
        return None
    cleaned = _SPACE.sub(" ", value).strip()
    return cleaned[:limit] or None
