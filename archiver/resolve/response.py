"""Interpreting one answer: where it points next (Location, Refresh, meta, JavaScript) and its title.

Bodies are read only with a bound: a redirect's only when short (so its connection
can carry the next request), a page's up to BODY_CAP past its <body> tag, PAGE_CAP in all.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import replace

from ..http import REDIRECT_STATUS, Answer, BodyTooLarge, HopFailed, Interpreted
from ..models import Fingerprint, LinkStatus, Via
from ..urls import is_shortener
from .fingerprint import fingerprint
from .htmlredirect import find_js_redirect, find_meta_refresh, find_title, parse_refresh

__all__ = ["BODY_CAP", "PAGE_CAP", "interpret"]

log = logging.getLogger("archiver.resolve")

# Of a page, the text after its <body> tag that is read: enough to find a meta refresh,
# a JavaScript redirect and the title, and for the fingerprint's thousand words.
BODY_CAP = 64 * 1024
# At most this much of a page in all: a large news site's head (inline scripts and
# styles) alone can outweigh BODY_CAP, and a page read no further than its head shows
# no text to compare.
PAGE_CAP = 1024 * 1024
_BODY_TAG = re.compile(rb"<body[\s>/]", re.IGNORECASE)
# A redirect's body is read (and so its connection kept) only when it is this short.
REDIRECT_BODY_CAP = 16 * 1024
# A JavaScript redirect is followed only on a page this small (or from a known
# shortener): on a real article, "location.href=" is usually some click handler.
JS_REDIRECT_MAX_BODY = 4096


async def interpret(
    answer: Answer, url: str, *, body: bytes | None = None, unreadable: bool = False
) -> Interpreted:
    """Return what an answer (not one worth retrying) says: where it points next, and its title.

    ``body``: the body as already read (to keep a copy of it); the page is then judged
    on the part of it that would have been read.  ``unreadable``: reading it failed
    (an encoding archiver does not read), as a page read here would have.
    """
    status = answer.status
    targets = answer.locations
    if status in REDIRECT_STATUS and targets:
        if len(set(targets)) > 1:
            raise HopFailed(
                LinkStatus.INVALID,
                f"conflicting Location headers: {' | '.join(targets)[:500]}",
                http_status=status,
            )
        if body is None and not unreadable:
            await _drain(answer)
        return Interpreted(status, targets[0], Via.LOCATION, None)
    refresh = parse_refresh(answer.header("refresh"))
    if refresh:
        return Interpreted(status, refresh, Via.REFRESH, None)
    if not (200 <= status < 300) or "html" not in answer.header("content-type", "html"):
        return Interpreted(status, None, None, None)
    if unreadable:
        return Interpreted(status, None, None, None)
    if body is None:
        try:
            body, _cut = await answer.read(PAGE_CAP, enough=_body_read())
        except BodyTooLarge:
            return Interpreted(status, None, None, None)
    else:
        body = _page_part(body)
    if len(body) > BODY_CAP and _BODY_TAG.search(body) is None:
        body = body[:BODY_CAP]  # no <body> tag: the start of it is the page, as it always was
    page = _decode_page(body, answer.charset)
    title = find_title(page)
    meta = find_meta_refresh(page)
    if meta:
        return Interpreted(status, meta, Via.META, title)
    if len(body) <= JS_REDIRECT_MAX_BODY or is_shortener(url):
        script = find_js_redirect(page)
        if script:
            return Interpreted(status, script, Via.JS, title)
    return Interpreted(status, None, None, title, _fingerprint(page, title, url))


def _page_part(body: bytes) -> bytes:
    """Return the part of a body read whole that ``_body_read`` would have read of it."""
    tag = _BODY_TAG.search(body, 0, PAGE_CAP // 4)
    if tag is not None:
        return body[: min(tag.start() + BODY_CAP, PAGE_CAP)]
    return body[: PAGE_CAP // 4]


def _body_read() -> Callable[[bytearray], bool]:
    """Return a test of what was read of a page: True once BODY_CAP bytes follow its <body>
    tag, or BODY_CAP bytes in all where no <body> tag came within the first PAGE_CAP / 4."""
    body_at: int | None = None
    searched = 0

    def enough(read: bytearray) -> bool:
        nonlocal body_at, searched
        if body_at is None:
            found = _BODY_TAG.search(read, max(0, searched - 6))
            searched = len(read)
            if found is not None:
                body_at = found.start()
            elif len(read) >= PAGE_CAP // 4:
                body_at = 0  # no <body> tag (optional in HTML): the page as it comes
        return body_at is not None and len(read) - body_at >= BODY_CAP

    return enough


def _fingerprint(page: str, title: str | None, url: str) -> Fingerprint | None:
    """Return what a final page shows; a page the reader chokes on costs its fingerprint only."""
    try:
        return replace(fingerprint(page), title=title)
    except Exception as ex:  # noqa: BLE001 - a page of a stranger's; the link's outcome stands
        log.info("%s: no fingerprint of the page (%s)", url, ex)
        return None


async def _drain(answer: Answer) -> None:
    """Read the short body of a redirect, so that its connection can carry the next request.

    A connection whose response was not read to the end is closed, and the next hop
    to the same host would pay for a new one.  Long bodies are not worth reading.
    """
    length = answer.header("content-length")
    if length.isdigit() and int(length) <= REDIRECT_BODY_CAP:
        with contextlib.suppress(BodyTooLarge):
            await answer.read(REDIRECT_BODY_CAP)


def _decode_page(body: bytes, charset: str | None) -> str:
    """Return a page's text; a charset no text codec stands for (``zip``, ``idna``) reads as UTF-8."""
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except (LookupError, UnicodeError, ValueError):
        return body.decode("utf-8", errors="replace")
