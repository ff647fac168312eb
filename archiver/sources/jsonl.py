"""JSON Lines of generic posts, so that anything else can be piped in.

One object a line with at least ``text``; optional ``id``, ``author``, ``handle``,
``created_at``, ``url`` and ``platform`` (default ``web``).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..extract import extract_text_parts
from ..jsontext import load_json
from ..models import ParseError, Platform, Post, SourceFormat
from ..urls import normalise_url
from . import source, streamer
from .compressed import open_text
from .records import stable_id, text_of
from .timestamps import utc_timestamp

__all__ = ["parse_jsonl", "stream_jsonl"]


def _is_jsonl(name: str, head: bytes) -> bool:
    if name.lower().endswith((".jsonl", ".ndjson")):
        return True
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    try:
        value = load_json(first)
    except ValueError:
        return False
    return isinstance(value, dict) and "text" in value


@source(SourceFormat.JSONL, detect=_is_jsonl)
def parse_jsonl(data: bytes, *, source: str) -> Iterator[Post]:
    """JSON Lines: one post a line, {"text", "id", "author", "handle", "created_at", "url", "platform"}."""
    yield from _read_lines(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", errors="replace"), source)


@streamer(SourceFormat.JSONL)
def stream_jsonl(path: str | Path, *, source: str) -> Iterator[Post]:
    """Return the posts of a JSON Lines file of any size, compressed or not, a line at a time."""
    with open_text(path) as text:
        yield from _read_lines(text, source)


def _read_lines(lines: Iterable[str], source: str) -> Iterator[Post]:
    bad: list[int] = []
    read = 0
    api_pages = False  # lines like {"data": [...]}: Twitter API v2 pages, as twarc2 writes them
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record: Any = None
        try:
            record = load_json(line)
            post = _post(record, source=source) if _is_post(record) else None
        except Exception:  # noqa: BLE001 - a hostile line (nesting, a date past 9999) is that line's
            post = None
        if post is None:
            bad.append(number)
            api_pages = api_pages or (isinstance(record, dict) and isinstance(record.get("data"), list))
            continue
        read += 1
        yield post
    if not bad:
        return
    what = "JSON objects with a 'text' string"
    hint = (
        "; they look like Twitter API pages without tweets (users, counts, compliance), which hold no posts"
        if api_pages
        else ""
    )
    if not read:
        raise ParseError(
            f"{source}: not JSON Lines of posts: none of its {len(bad)} line(s) is one of {what}{hint}"
        )
    raise ParseError(
        f"{source}: {len(bad)} line(s) are not {what} (first: line {bad[0]}){hint}; "
        f"the other {read} line(s) were read"
    )


def _is_post(record: Any) -> bool:
    return isinstance(record, dict) and isinstance(record.get("text"), str)


def _post(record: dict[str, Any], *, source: str) -> Post:
    text = record["text"]
    platform = text_of(record.get("platform")) or Platform.WEB
    handle = text_of(record.get("handle")).lstrip("@") or None
    posted_at = utc_timestamp(record.get("created_at"))
    parts = extract_text_parts(text, platform=platform)
    url = text_of(record.get("url"))
    post_id = text_of(record.get("id")) or str(record.get("id") or "")
    if not post_id:
        post_id = stable_id(platform, handle or "", posted_at or "", text)
    return Post(
        id=post_id,
        platform=platform,
        author_name=text_of(record.get("author")) or None,
        author_handle=handle,
        text=text,
        posted_at=posted_at,
        url=normalise_url(url) if url else None,
        source=source,
        hashtags=parts.hashtags,
        mentions=parts.mentions,
        links=parts.links,
    )
