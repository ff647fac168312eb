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

_REFRESH = re.compile(
    r"""^\s*(?P<delay>\d+(?:\.\d*)?)?\s*[;,]?\s*(?:url\s*=\s*)?(?P<quote>['"]?)(?P<url>[^'"]*)(?P=quote)\s*$""",
    re.IGNORECASE | re.DOTALL,
)
_META = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(
    r"""([a-z_:][-a-z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.IGNORECASE
)
_JS_REDIRECT = re.compile(
    r"""(?:window\.|document\.|top\.|self\.)?location(?:\.href)?\s*=\s*(["'])(?P<a>.+?)\1"""
    r"""|location\.(?:replace|assign)\(\s*(["'])(?P<b>.+?)\3\s*\)""",
    re.IGNORECASE,
)
_TITLE = re.compile(r"<title\b[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)


def parse_refresh(value: str) -> str | None:
    """Return the target of a Refresh value such as ``0; url=/next``, or None."""
    match = _REFRESH.match(value)
    if not match or not match.group("url").strip():
        return None
    delay = float(match.group("delay") or 0)
    if delay > MAX_REFRESH_DELAY:
        return None
    return match.group("url").strip()


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
    match = _TITLE.search(page)
    if not match:
        return None
    title = " ".join(html.unescape(match.group(1)).split())
    return title[:500] or None
