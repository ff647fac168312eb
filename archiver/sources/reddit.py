"""Reddit: Pushshift and Arctic Shift dumps of submissions and comments, and Reddit's own data export.

A dump is one JSON object a line (``RS_2023-01.zst``, ``RC_2023-01.zst``, a subreddit's
``_submissions.zst``), compressed or not, of any size, read a line at a time: a
submission has ``title``, ``selftext`` and ``url``, a comment ``body`` and ``link_id``;
both have ``id``, ``author``, ``created_utc``, ``subreddit`` and usually ``permalink``.
Reddit's data export (``posts.csv``, ``comments.csv``) holds a user's own posts with
``id,permalink,date,ip,subreddit,gildings`` first.

A submission is stored as ``reddit:t3_<id>`` and a comment as ``reddit:t1_<id>`` (the
two number their ids apart, so a bare id could name both), by the author as written
(``[deleted]`` included).  A link post's ``url`` is a link found by ``entity``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..extract import extract_text_parts, merge_links
from ..jsontext import load_json
from ..models import FoundBy, FoundLink, ParseError, Platform, Post, SourceFormat
from ..urls import normalise_url
from . import source, streamer
from .compressed import open_text
from .lines import json_lines_of_bytes, json_lines_of_file
from .records import text_of
from .timestamps import utc_timestamp

__all__ = ["parse_reddit", "parse_reddit_export", "stream_reddit", "stream_reddit_export"]

REDDIT = "https://www.reddit.com"
_WHAT = "a Reddit submission or comment"
_EXPORT_HEADER = re.compile(r"\A\ufeff?id,permalink,date,ip,subreddit,gildings,")


def _is_reddit(name: str, head: bytes) -> bool:
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    try:
        record = load_json(first)
    except ValueError:
        has = first.__contains__
        return has(b'"subreddit"') and has(b'"created_utc"') and (has(b'"selftext"') or has(b'"body"'))
    return isinstance(record, dict) and _is_thing(record)


def _is_thing(record: dict[str, Any]) -> bool:
    return (
        "subreddit" in record
        and "created_utc" in record
        and isinstance(record.get("id"), str)
        and ("title" in record or "body" in record)
    )


@source(SourceFormat.REDDIT, detect=_is_reddit)
def parse_reddit(data: bytes, *, source: str) -> Iterator[Post]:
    """Reddit submissions and comments, a JSON object a line, as Pushshift and Arctic Shift dump them."""
    yield from json_lines_of_bytes(data, lambda r: _posts(r, source), source=source, what=_WHAT)


@streamer(SourceFormat.REDDIT)
def stream_reddit(path: str | Path, *, source: str) -> Iterator[Post]:
    """Return the posts of a dump of any size, compressed or not, a line at a time."""
    yield from json_lines_of_file(path, lambda r: _posts(r, source), source=source, what=_WHAT)


def _posts(record: Any, source: str) -> list[Post] | None:
    if not isinstance(record, dict) or not _is_thing(record):
        return None
    subreddit = text_of(record.get("subreddit"))
    thing = text_of(record.get("id")).removeprefix("t1_").removeprefix("t3_")
    if "title" in record:  # a submission
        text = "\n\n".join(p for p in (text_of(record.get("title")), text_of(record.get("selftext"))) if p)
        target = text_of(record.get("url"))
        own = record.get("is_self") is True or "/comments/" in target and subreddit in target
        return [
            _post(
                f"t3_{thing}",
                text=text,
                author=text_of(record.get("author")) or None,
                posted_at=utc_timestamp(record.get("created_utc")),
                permalink=_permalink(record.get("permalink")) or f"{REDDIT}/r/{subreddit}/comments/{thing}/",
                link=None if own else target,
                source=source,
            )
        ]
    submission = text_of(record.get("link_id")).removeprefix("t3_")
    fallback = f"{REDDIT}/r/{subreddit}/comments/{submission}/_/{thing}/" if submission else None
    return [
        _post(
            f"t1_{thing}",
            text=text_of(record.get("body")),
            author=text_of(record.get("author")) or None,
            posted_at=utc_timestamp(record.get("created_utc")),
            permalink=_permalink(record.get("permalink")) or fallback,
            link=None,
            source=source,
        )
    ]


def _is_reddit_export(name: str, head: bytes) -> bool:
    return bool(_EXPORT_HEADER.match(head.decode("utf-8", errors="replace")))


@source(SourceFormat.REDDIT_EXPORT, detect=_is_reddit_export)
def parse_reddit_export(data: bytes, *, source: str) -> Iterator[Post]:
    """Reddit's own data export: posts.csv and comments.csv (id, permalink, date, subreddit, body...)."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", errors="replace", newline="")
    yield from _export_rows(text, source=source)


@streamer(SourceFormat.REDDIT_EXPORT)
def stream_reddit_export(path: str | Path, *, source: str) -> Iterator[Post]:
    """Return the posts of an export file of any size, a row at a time."""
    with open_text(path, newline="") as text:
        yield from _export_rows(text, source=source)


def _export_rows(text: IO[str], *, source: str) -> Iterator[Post]:
    rows = csv.DictReader(text)
    bad: list[int] = []
    for number, row in enumerate(rows, start=2):
        try:
            post = _export_post(row, source=source)
        except Exception:  # noqa: BLE001 - a hostile row is that row's
            post = None
        if post is None:
            bad.append(number)
            continue
        yield post
    if bad:
        raise ParseError(
            f"{source}: {len(bad)} row(s) are not {_WHAT} (first: row {bad[0]}); the others were read"
        )


def _export_post(row: dict[str, Any], *, source: str) -> Post | None:
    thing = text_of(row.get("id"))
    if not thing:
        return None
    comment = "link" in row or "parent" in row
    if comment:
        text, link = text_of(row.get("body")), None
    else:
        text = "\n\n".join(p for p in (text_of(row.get("title")), text_of(row.get("body"))) if p)
        link = text_of(row.get("url")) or None
        permalink = text_of(row.get("permalink"))
        if link and permalink and link.rstrip("/") == permalink.rstrip("/"):
            link = None  # a self post's url is its own page
    return _post(
        f"{'t1' if comment else 't3'}_{thing}",
        text=text,
        author=None,  # the export is of one account, which it does not name
        posted_at=utc_timestamp(text_of(row.get("date")).replace(" UTC", "+00:00") or None),
        permalink=_permalink(row.get("permalink")),
        link=link,
        source=source,
    )


def _post(
    thing: str,
    *,
    text: str,
    author: str | None,
    posted_at: str | None,
    permalink: str | None,
    link: str | None,
    source: str,
) -> Post:
    parts = extract_text_parts(text, platform=Platform.REDDIT)
    found: list[FoundLink] = []
    target = normalise_url(link) if link else None
    if target is not None:
        found.append(FoundLink(url=target, display=link or target, found_by=FoundBy.ENTITY, position=0))
    return Post(
        id=thing,
        platform=Platform.REDDIT,
        author_name=None,
        author_handle=author,
        text=text,
        posted_at=posted_at,
        url=normalise_url(permalink) if permalink else None,
        source=source,
        hashtags=(),
        mentions=(),
        links=merge_links(found, parts.links),
    )


def _permalink(value: Any) -> str | None:
    path = text_of(value)
    if not path:
        return None
    return (
        path
        if path.startswith(("http://", "https://"))
        else f"{REDDIT}{path if path.startswith('/') else '/' + path}"
    )
