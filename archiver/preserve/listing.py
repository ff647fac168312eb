"""Reading web archives' lists of captures: Memento TimeMaps (RFC 7089) and CDX API answers.

Both come to a list of ``Capture``: where a capture can be seen, when it was taken and,
for CDX, the status the archive got.  ``summarise`` picks what a link keeps of them: the
first, the latest, the one closest to a date (the earliest post carrying the link), and
how many there are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from ..clock import format_utc, parse_http_date
from ..jsontext import decode_json_at, load_json
from ..models import Capture, CaptureRole, ListingKind, Summary

__all__ = [
    "Endpoint",
    "ListingError",
    "best_capture",
    "from_timestamp",
    "parse_cdx",
    "parse_timemap",
    "summarise",
    "timemap_pages",
]

# Captures asked of a CDX server in one request; a URL with more (a home page) is
# summarised from these, and its count says "at least".
CDX_LIMIT = 10_000


class ListingError(ValueError):
    """An archive's answer is not the list of captures it should be."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where captures are looked up: a CDX API or a TimeMap prefix (the URL is appended)."""

    url: str
    kind: ListingKind

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """Return the endpoint a URL names: a path ending in ``/cdx`` (or ``/cdx/search/cdx``) is
        a CDX API; anything else is a TimeMap prefix such as ``https://host/timemap/link/``."""
        path = urlsplit(url).path.rstrip("/")
        return cls(url, ListingKind.CDX if path.endswith("/cdx") else ListingKind.TIMEMAP)

    @property
    def archive(self) -> str:
        """The archive's name as stored: its host, and its port when it names one."""
        return (urlsplit(self.url).netloc.rpartition("@")[2] or self.url).lower()

    def lookup_url(self, url: str) -> str:
        """Return the request that lists the captures of ``url``."""
        if self.kind == ListingKind.CDX:
            query = urlencode(
                {"url": url, "output": "json", "fl": "timestamp,original,statuscode", "limit": CDX_LIMIT}
            )
            return f"{self.url}{'&' if '?' in self.url else '?'}{query}"
        return self.url + quote(url, safe=":/?=&%#+@;,~!$'()*")

    def replay_url(self, timestamp: str, original: str) -> str:
        """Return where a CDX capture is shown: the replay path beside the CDX API.

        ``/cdx/search/cdx`` (the Wayback Machine) replays under ``/web/``; a pywb
        collection's ``/coll/cdx`` under ``/coll/``.
        """
        parts = urlsplit(self.url)
        path = parts.path.rstrip("/")
        if path.endswith("/cdx/search/cdx"):
            base = path[: -len("/cdx/search/cdx")] + "/web/"
        else:
            base = path[: -len("cdx")]
        return urlunsplit((parts.scheme, parts.netloc, f"{base}{timestamp}/{original}", "", ""))


def parse_cdx(body: bytes, endpoint: Endpoint) -> list[Capture]:
    """Return the captures a CDX API's JSON answer lists (``output=json``; empty body: none)."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return []
    try:
        rows = load_json(text)
    except ValueError as ex:
        rows = _complete_rows(text)
        if not rows:
            raise ListingError(f"not a CDX JSON answer: {text[:80]!r}") from ex
    if not isinstance(rows, list):
        raise ListingError("not a CDX JSON answer: not a list")
    if not rows:
        return []
    header = rows[0]
    if not isinstance(header, list) or "timestamp" not in header or "original" not in header:
        raise ListingError(f"not a CDX JSON answer: first row {str(header)[:80]}")
    at = {name: header.index(name) for name in ("timestamp", "original", "statuscode") if name in header}
    captures = []
    for row in rows[1:]:
        if not isinstance(row, list) or len(row) < len(header):
            continue
        timestamp, original = str(row[at["timestamp"]]), str(row[at["original"]])
        when = from_timestamp(timestamp)
        if when is None:
            continue
        status = str(row[at["statuscode"]]) if "statuscode" in at else ""
        captures.append(
            Capture(
                endpoint.replay_url(timestamp, original),
                when,
                int(status) if status.isascii() and status.isdigit() and len(status) == 3 else None,
            )
        )
    return captures


def _complete_rows(text: str) -> list[object]:
    """Return the rows of a CDX JSON answer cut off mid-array (a long listing often is)."""
    if not text.startswith("[["):
        return []
    rows: list[object] = []
    position = 1
    while position < len(text):
        try:
            row, position = decode_json_at(text, position)
        except ValueError:
            break
        rows.append(row)
        while position < len(text) and text[position] in ", \r\n\t":
            position += 1
    return rows


# One link of a link-format document: <URI>; param; param...
_LINK = re.compile(r'<([^<>]*)>((?:\s*;\s*[\w*-]+(?:\s*=\s*(?:"[^"]*"|[^;,<>"]*))?)*)')
_PARAM = re.compile(r'([\w*-]+)\s*=\s*(?:"([^"]*)"|([^;,<>"]*))')


def _params(text: str) -> dict[str, str]:
    """Return a link's parameters (``; rel="memento"; datetime="..."``), names in lower case."""
    return {
        name.lower(): quoted if quoted is not None and quoted != "" else bare.strip()
        for name, quoted, bare in _PARAM.findall(text)
    }


def parse_timemap(body: bytes, *, limit: int | None = None) -> list[Capture]:
    """Return the mementos a link-format TimeMap lists (RFC 7089, section 5.1), at most ``limit``."""
    text = body.decode("utf-8", errors="replace")
    # Links with parameters: "<!doctype html>" alone is no link of a TimeMap.
    links = [match for match in _LINK.finditer(text) if match.group(2).strip()]
    if text.strip() and not links:
        raise ListingError(f"not a link-format TimeMap: {text.strip()[:80]!r}")
    captures = []
    seen: set[str] = set()
    for match in links:
        params = _params(match.group(2))
        if "memento" not in params.get("rel", "").lower().split():
            continue
        when = _from_http_date(params.get("datetime", ""))
        url = match.group(1).strip()
        # A memento may be listed twice ("first memento" and "memento"): it is one capture.
        # Only web addresses are kept: a TimeMap is a stranger's text.
        if when is not None and url.lower().startswith(("http://", "https://")) and url not in seen:
            seen.add(url)
            captures.append(Capture(url, when))
            if limit is not None and len(captures) >= limit:
                break
    return captures


def timemap_pages(body: bytes, current: str) -> list[str]:
    """Return the other pages of a paged TimeMap that ``body`` links to (RFC 7089, 4.3).

    A page is a link with rel "timemap" in link format and a ``from`` or ``until``
    bound; the TimeMap itself, other formats of it (JSON, HTML) and other archives'
    TimeMaps without bounds are not pages.  Only web addresses.
    """
    text = body.decode("utf-8", errors="replace")
    pages = []
    for match in _LINK.finditer(text):
        params = _params(match.group(2))
        url = match.group(1).strip()
        if (
            "timemap" in params.get("rel", "").lower().split()
            and params.get("type", "application/link-format").lower() == "application/link-format"
            and ("from" in params or "until" in params)
            and url.lower().startswith(("http://", "https://"))
            and url != current
            and url not in pages
        ):
            pages.append(url)
    return pages


def summarise(captures: list[Capture], *, near: str | None, capped: bool = False) -> Summary:
    """Return the count, the first, the latest and the capture closest to ``near`` (UTC)."""
    if not captures:
        return Summary(0, capped, None, None, None)
    ordered = sorted(captures, key=lambda c: c.captured_at)
    closest = None
    target = _parse_utc(near) if near else None
    if target is not None:
        # A capture the archive got an error for shows no page: prefer those it got a page for.
        pool = [c for c in ordered if c.http_status is None or 200 <= c.http_status < 400] or ordered
        closest = min(pool, key=lambda c: abs((_parse_utc(c.captured_at) or target) - target))
    return Summary(len(ordered), capped, ordered[0], ordered[-1], closest)


def best_capture(candidates: list[tuple[Capture, tuple[str, ...]]], near: str | None) -> Capture | None:
    """Return the capture a link shows as its archived copy, of its captures in every archive.

    One the archive got a page for before one it got an error for, then one that was the
    closest of its listing, then the one nearest ``near`` (the earliest post carrying the
    link), then the earliest.
    """
    target = _parse_utc(near) if near else None

    def rank(candidate: tuple[Capture, tuple[str, ...]]) -> tuple[bool, bool, float, str]:
        capture, roles = candidate
        good = capture.http_status is None or 200 <= capture.http_status <= 399
        when = _parse_utc(capture.captured_at)
        # A date that cannot be read ranks as nearest, as SQLite's julianday() null did.
        distance = -1.0 if when is None else abs((when - (target or when)).total_seconds())
        return (not good, CaptureRole.CLOSEST not in roles, distance, capture.captured_at)

    return min(candidates, key=rank)[0] if candidates else None


def from_timestamp(value: str) -> str | None:
    """Return a CDX timestamp (``YYYYMMDDhhmmss``, shorter ones padded) as UTC."""
    digits = value.strip()
    if not (digits.isascii() and digits.isdigit()) or not 4 <= len(digits) <= 14:
        return None
    digits = digits + "0101000000"[len(digits) - 4 :] if len(digits) < 14 else digits
    try:
        return format_utc(datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC))
    except ValueError:
        return None


def _from_http_date(value: str) -> str | None:
    when = parse_http_date(value)
    if when is None:
        return None
    try:
        return format_utc(when)
    except (ValueError, OverflowError):
        return None


def _parse_utc(value: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
