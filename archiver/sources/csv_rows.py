"""CSV (and TSV) of posts, one a row: exports of research datasets and spreadsheets.

The format is ``csv``; the module is not named ``csv.py`` so that it never stands in
for the standard library's.  Columns are found by their header, whatever the tool
that wrote it called them: the text (``text``, ``full_text``, ``content``, ``body``…), the
id, the date, the author, the permalink and any column of expanded links
(``expanded_url``, ``entities.urls``…).  ``--text-column`` names the text column when
the guess is wrong.  Rows are read one at a time, so a file of any size is read in
bounded memory.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from ..extract import extract_text_parts, merge_links
from ..jsontext import load_json
from ..models import FoundBy, FoundLink, ParseError, Platform, Post, SourceFormat
from ..urls import hostname, normalise_url
from . import source, streamer
from .records import stable_id
from .timestamps import utc_timestamp
from .twitter_archive import entity_link

__all__ = ["parse_csv", "stream_csv"]

# Header names, normalised (lower case, runs of other characters as "_"), best first.
TEXT_COLUMNS = (
    "full_text",
    "text",
    "tweet_text",
    "content",
    "body",
    "tweet",
    "message",
    "post_text",
    "status",
)
ID_COLUMNS = ("id", "tweet_id", "id_str", "status_id", "post_id", "uri")
# minet and twitwi write timestamp_utc (seconds since 1970) and local_time (without a
# zone); 4CAT writes unix_timestamp beside timestamp.
DATE_COLUMNS = (
    *("created_at", "timestamp_utc", "unix_timestamp", "date", "timestamp", "posted_at", "datetime"),
    *("time", "published", "created", "date_utc", "local_time"),
)
HANDLE_COLUMNS = (
    *("author_username", "user_screen_name", "screen_name", "username", "user_username", "user_handle"),
    *("handle", "author_handle", "author", "user", "account"),
)
# Hashtags and mentions a collector recorded: twitwi's "a|b", twarc-csv's JSON lists.
HASHTAG_COLUMNS = ("hashtags", "entities_hashtags")
MENTION_COLUMNS = ("mentioned_user_handles", "mentioned_names", "entities_mentions", "mentions")
NAME_COLUMNS = (
    "author_name",
    "user_name",
    "display_name",
    "user_display_name",
    "author_display_name",
    "name",
)
URL_COLUMNS = ("permalink", "tweet_url", "post_url", "status_url", "url", "link")
PLATFORM_COLUMNS = ("platform", "network", "site")
# Columns that hold the links of a post (a URL, several, or JSON of them).
_LINK_COLUMN = re.compile(r"expanded_url|unwound_url|^urls$|^entities_urls$|^links$")
# Columns only twarc-csv writes (``__twarc.retrieved_at``, ``entities.urls``...).
_TWARC_CSV_COLUMNS = ("twarc_", "entities_", "referenced_tweets_")
_SPLIT_LINKS = re.compile(r"[\s,;|]+")
_DELIMITERS = ",;\t|"


def _is_csv(name: str, head: bytes) -> bool:
    if name.lower().endswith((".csv", ".tsv")):
        return True
    first = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", errors="replace")
    if first.lstrip().startswith(("{", "[", "<")):
        return False
    columns = _header(first)
    return len(columns) >= 2 and any(column in columns for column in TEXT_COLUMNS)


@source(SourceFormat.CSV, detect=_is_csv, options=frozenset({"text_column"}))
def parse_csv(data: bytes, *, source: str, text_column: str | None = None) -> Iterator[Post]:
    """CSV or TSV, a post a row, columns found by their header (text, id, date, author, URL)."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", errors="replace", newline="")
    yield from _parse_rows(text, source=source, text_column=text_column)


@streamer(SourceFormat.CSV)
def stream_csv(path: str | Path, *, source: str, text_column: str | None = None) -> Iterator[Post]:
    """Return the posts of a CSV file read a row at a time (for files of any size)."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as text:
        yield from _parse_rows(text, source=source, text_column=text_column)


def _parse_rows(text: IO[str], *, source: str, text_column: str | None) -> Iterator[Post]:
    first = text.readline()
    if not first.strip():
        raise ParseError(f"{source}: an empty CSV file")
    delimiter = _delimiter(first)
    header = next(csv.reader([first], delimiter=delimiter))
    columns = _Columns.find(
        [_normalise(name) for name in header], header, source=source, text_column=text_column
    )
    reader = csv.reader(text, delimiter=delimiter)
    bad: list[int] = []
    number = 1
    while True:
        number += 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            bad.append(number)  # a field over the csv module's size limit, a stray quote
            continue
        try:
            post = _row_post(row, columns, source=source)
        except Exception:  # noqa: BLE001 - a hostile row (a date past 9999, …) is that row's
            bad.append(number)
            continue
        if post is not None:
            yield post
    problems = []
    if bad:
        problems.append(f"{len(bad)} row(s) could not be read as CSV (first: row {bad[0]}); the others were")
    missing = [what for what, index in (("date", columns.date), ("author", columns.handle)) if index is None]
    if missing and columns.name is not None and "author" in missing:
        missing.remove("author")  # a name, if no handle, still says who wrote it
    if missing:
        problems.append(
            f"no {' or '.join(missing)} column archiver knows, so the posts were stored without "
            f"{'them' if len(missing) > 1 else 'it'} (columns: {', '.join(columns.header[:30])})"
        )
    if problems:
        raise ParseError(f"{source}: {'; '.join(problems)}")


def _delimiter(first: str) -> str:
    """Return the delimiter of a header line: the one that splits it into the most known columns."""
    best, score = ",", -1
    for delimiter in _DELIMITERS:
        names = _header(first, delimiter)
        known = sum(name in _KNOWN for name in names)
        if known > score or (known == score and len(names) > len(_header(first, best))):
            best, score = delimiter, known
    return best


def _header(line: str, delimiter: str | None = None) -> list[str]:
    if delimiter is None:
        return max((_header(line, d) for d in _DELIMITERS), key=len)
    try:
        return [_normalise(name) for name in next(csv.reader([line], delimiter=delimiter))]
    except (csv.Error, StopIteration):
        return []


def _normalise(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


_KNOWN = frozenset(
    (
        *TEXT_COLUMNS,
        *ID_COLUMNS,
        *DATE_COLUMNS,
        *HANDLE_COLUMNS,
        *NAME_COLUMNS,
        *URL_COLUMNS,
        *PLATFORM_COLUMNS,
    )
)


class _Columns:
    """Which column holds what, by position."""

    def __init__(self, names: list[str], text: int) -> None:
        self.text = text
        self.id = _first(names, ID_COLUMNS)
        self.date = _first(names, DATE_COLUMNS)
        self.handle = _first(names, HANDLE_COLUMNS)
        self.name = _first(names, NAME_COLUMNS)
        self.url = _first(names, URL_COLUMNS)
        self.platform = _first(names, PLATFORM_COLUMNS)
        self.links = [i for i, name in enumerate(names) if _LINK_COLUMN.search(name) and i != text]
        self.hashtags = _first(names, HASHTAG_COLUMNS)
        self.mentions = _first(names, MENTION_COLUMNS)
        self.tweets = any("tweet" in name or "screen_name" in name for name in names)
        # twarc-csv writes a line break of the text as backslash-n.
        self.escaped_newlines = any(name.startswith(_TWARC_CSV_COLUMNS) for name in names)
        self.header = names

    @classmethod
    def find(cls, names: list[str], header: list[str], *, source: str, text_column: str | None) -> _Columns:
        """Return the columns of a header; ParseError when no column holds the text."""
        if text_column is not None:
            wanted = [i for i, name in enumerate(header) if name.strip() == text_column]
            wanted = wanted or [i for i, name in enumerate(names) if name == _normalise(text_column)]
            if not wanted:
                raise ParseError(f"{source}: no column named {text_column!r} (columns: {', '.join(header)})")
            return cls(names, wanted[0])
        text = _first(names, TEXT_COLUMNS)
        if text is None:
            raise ParseError(
                f"{source}: a CSV file without a text column (columns: {', '.join(header[:20])}); "
                "name the column that holds the posts' text with --text-column"
            )
        return cls(names, text)


def _first(names: list[str], wanted: Iterable[str]) -> int | None:
    for name in wanted:
        if name in names:
            return names.index(name)
    return None


def _row_post(row: list[str], columns: _Columns, *, source: str) -> Post | None:
    def cell(index: int | None) -> str:
        return row[index].strip() if index is not None and index < len(row) else ""

    text = cell(columns.text)
    if columns.escaped_newlines:
        text = text.replace("\\n", "\n")
    listed = [link for i in columns.links for link in _links_in(cell(i))]
    if not text and not listed:
        return None
    handle = cell(columns.handle).lstrip("@") or None
    permalink = normalise_url(cell(columns.url)) if cell(columns.url) else None
    platform = _platform(cell(columns.platform), permalink, columns)
    if platform == Platform.TWITTER:
        text = html.unescape(text)  # Twitter writes &, < and > of a tweet's text as entities
    post_id = cell(columns.id)
    if permalink is None and platform == Platform.TWITTER and post_id.isdigit():
        permalink = f"https://twitter.com/{handle or 'i/web'}/status/{post_id}"
    posted_at = utc_timestamp(cell(columns.date)) if cell(columns.date) else None
    if not post_id:
        post_id = stable_id(platform, handle or "", posted_at or "", text)
    parts = extract_text_parts(text, platform=platform)
    links = _paired(parts.links, listed)
    return Post(
        id=post_id,
        platform=platform,
        author_name=cell(columns.name) or None,
        author_handle=handle,
        text=text,
        posted_at=posted_at,
        url=permalink,
        source=source,
        hashtags=_recorded(columns.hashtags, cell(columns.hashtags), "#", "tag", parts.hashtags),
        mentions=_recorded(columns.mentions, cell(columns.mentions), "@", "username", parts.mentions),
        links=links,
    )


def _paired(found: tuple[FoundLink, ...], listed: list[FoundLink]) -> tuple[FoundLink, ...]:
    """Return the links of a row: the text's t.co links with the expansions a collector listed.

    twarc-csv lists each t.co link's expansion in ``entities.urls``, in the order of the
    text, without the t.co URL: as many whole t.co links as listed expansions are paired
    in order, and a t.co link then costs no request.
    """
    shortened = [link for link in found if hostname(link.url) == "t.co" and not link.truncated]
    plain = [link for link in listed if link.expanded_url is None and hostname(link.url) != "t.co"]
    if not shortened or len(shortened) != len(plain) or len(plain) != len(listed):
        return merge_links(listed, found)
    expansion = {short.url: full.url for short, full in zip(shortened, plain, strict=True)}
    return merge_links(
        [replace(link, expanded_url=expansion.get(link.url, link.expanded_url)) for link in found]
    )


def _names_in(value: str, sign: str, key: str) -> list[str]:
    """Return the hashtags or handles a column lists: JSON, or separated by | , or spaces."""
    names = []
    for item in _cell_items(value):
        name = item.get(key) if isinstance(item, dict) else item
        if isinstance(name, str) and name.strip().lstrip(sign):
            names.append(name.strip().lstrip(sign))
    return names


def _recorded(column: int | None, value: str, sign: str, key: str, found: tuple[str, ...]) -> tuple[str, ...]:
    """Return the hashtags or mentions of a row: what the collector recorded, where it has
    a column for them (the platform's own entities or facets), else what the text shows."""
    if column is None:
        return found
    kept: dict[str, str] = {}
    for name in _names_in(value, sign, key):
        kept.setdefault(name.casefold(), name)  # #ESR is #esr: the first spelling is kept
    return tuple(kept.values())


def _platform(named: str, permalink: str | None, columns: _Columns) -> str:
    if named:
        return named.lower()
    host = hostname(permalink) if permalink else ""
    if host in {"twitter.com", "x.com", "mobile.twitter.com"}:
        return Platform.TWITTER
    if host == "bsky.app":
        return Platform.BLUESKY
    if permalink and re.search(r"/@[^/]+/\d+$", permalink):
        return Platform.MASTODON
    return Platform.TWITTER if columns.tweets else Platform.WEB


def _cell_items(value: str) -> list[Any]:
    """Return what a cell lists: the items of JSON (a list, or one object), or the words
    between | , ; and spaces."""
    if not value:
        return []
    if value[0] not in "[{":
        return _SPLIT_LINKS.split(value)
    try:
        parsed = load_json(value)
    except ValueError:
        return []
    return parsed if isinstance(parsed, list) else [parsed] if isinstance(parsed, dict) else []


def _links_in(value: str) -> list[FoundLink]:
    """Return the links a link column's cell holds: one URL, several, or JSON of them."""
    links = []
    for item in _cell_items(value):
        found = entity_link(item) if isinstance(item, dict) else _plain_link(item)
        if found is not None:
            links.append(found)
    return links


def _plain_link(value: Any) -> FoundLink | None:
    """Return the link a cell lists: a URL, or a host and path without a scheme, as
    twarc-csv lists a photo (``pic.twitter.com/AbC``)."""
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return None
    if "://" not in value:
        host = value.split("/", 1)[0]
        value = f"https://{value}" if "." in host and "@" not in host else ""
    url = normalise_url(value) if value else None
    return FoundLink(url=url, display=value, found_by=FoundBy.ENTITY, position=0) if url else None
