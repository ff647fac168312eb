"""Extracting what a post carries: its links, hashtags and mentions, and the visible text of HTML.

``links`` finds URLs, hashtags and mentions in text by twitter-text's rules (the messy
ones too: no scheme, glued to a hashtag, cut off by an ellipsis); ``html`` reads HTML
into visible text and anchors, with ``nesting`` keeping a hostile page's depth bounded.
"""

from __future__ import annotations

from .html import (
    INVISIBLE_TAGS,
    HTMLTree,
    anchor_links,
    merge_links,
    parse_html,
    post_from_html,
    render,
)
from .links import MAX_TEXT_LENGTH, TextParts, extract_links, extract_text_parts
from .nesting import MAX_DEPTH, cap_nesting

__all__ = [
    "INVISIBLE_TAGS",
    "MAX_DEPTH",
    "MAX_TEXT_LENGTH",
    "HTMLTree",
    "TextParts",
    "anchor_links",
    "cap_nesting",
    "extract_links",
    "extract_text_parts",
    "merge_links",
    "parse_html",
    "post_from_html",
    "render",
]
