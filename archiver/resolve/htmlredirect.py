"""Redirects that live in a page rather than in a Location header.

Shorteners answer browsers with a 200 page that moves on by itself: a ``Refresh``
header, ``<meta http-equiv="refresh">`` (t.co puts it inside ``<noscript>``, which
is still read here) or a line of JavaScript such as ``location.replace("…")``.
"""

from __future__ import annotations

import html
import re

__all__ = ["find_js_redirect", "find_meta_refresh", "find_title", "parse_refresh"]

# A refresh that waits longer than this is a page reloading itself, not a redirect.
MAX_REFRESH_DELAY = 30.0

# Every pattern here meets pages written by strangers: none may backtrack over a run
# of characters more than once (a Refresh of "0;" and 3,000 spaces took 23 s with
# one regular expression for the whole value), so values are read step by step and
# tags are bounded in length.
_DELAY = re.compile(r"\d+(?:\.\d*)?")
_URL_KEY = re.compile(r"url\s*+=", re.IGNORECASE)
_META = re.compile(r"<meta\b[^>]{0,4096}>", re.IGNORECASE)
_ATTRIBUTE = re.compile(
    r"""([a-z_:][-a-z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.IGNORECASE
)
_JS_REDIRECT = re.compile(
    r"""(?:window\.|document\.|top\.|self\.)?location(?:\.href)?\s*=\s*(["'])(?P<a>[^\n]{1,2048}?)\1"""
    r"""|location\.(?:replace|assign)\(\s*(["'])(?P<b>[^\n]{1,2048}?)\3\s*\)""",
    re.IGNORECASE,
)
_TITLE_OPEN = re.compile(r"<title\b[^>]{0,4096}>", re.IGNORECASE)
_TITLE_CLOSE = re.compile(r"</title\s*>", re.IGNORECASE)


def parse_refresh(value: str) -> str | None:
    """Return the target of a Refresh value such as ``0; url=/next``, or None."""
    rest = value.strip()
    delay_match = _DELAY.match(rest)
    delay = float(delay_match.group()) if delay_match else 0.0
    rest = rest[delay_match.end() :].lstrip() if delay_match else rest
    if rest[:1] in (";", ","):
        rest = rest[1:].lstrip()
    key = _URL_KEY.match(rest)
    if key is not None:
        rest = rest[key.end() :].lstrip()
    if rest[:1] in ("'", '"'):
        quote = rest[0]
        end = rest.find(quote, 1)
        if end < 0 or rest[end + 1 :].strip():
            return None
        url = rest[1:end]
    else:
        url = rest
    if not url.strip() or "'" in url or '"' in url or delay > MAX_REFRESH_DELAY:
        return None
    return url.strip()


def find_meta_refresh(page: str) -> str | None:
    """Return the target of the first ``<meta http-equiv="refresh">`` in a page, or None."""
    for tag in _META.finditer(page):
        attributes = {
            name.lower(): html.unescape(a or b or c) for name, a, b, c in _ATTRIBUTE.findall(tag.group(0))
        }
        if attributes.get("http-equiv", "").strip().lower() == "refresh" and "content" in attributes:
            return parse_refresh(attributes["content"])
    return None


def find_js_redirect(page: str) -> str | None:
    """Return the target of a plain ``location.replace("…")`` / ``location.href = "…"``, or None."""
    match = _JS_REDIRECT.search(page)
    if not match:
        return None
    target = match.group("a") or match.group("b") or ""
    target = target.replace("\\/", "/").strip()
    return target or None


def find_title(page: str) -> str | None:
    """Return the page's ``<title>``, unescaped and squeezed to one line, or None."""
    opening = _TITLE_OPEN.search(page)
    if opening is None:
        return None
    closing = _TITLE_CLOSE.search(page, opening.end())
    if closing is None:
        return None  # no later <title> can close either
    title = " ".join(html.unescape(page[opening.end() : closing.start()]).split())
    return title[:500] or None
