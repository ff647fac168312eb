"""The posts, links and post_links tables: storing what sources read, incrementally."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, overload

from sqlite_utils import Database

from ..clock import utc_now
from ..models import ArchiverError, DatabaseError, LinkStatus, Post
from ..postkeys import post_key
from ..urls import hostname, is_shortener, link_id
from .db import chunks, database_path, describe, insert_rows

__all__ = ["BATCH_SIZE", "Saved", "folded_tags", "save_posts"]

# Posts per transaction.  A kill loses at most one batch, which the next run reads
# again; readers never wait (WAL).  Each commit writes every index page the batch
# touched, so small batches cost: 100,000 tweets take 7.5 s at 500, 5.5 s at 5,000.
BATCH_SIZE = 5000
INGEST_CACHE_KIB = 8 * 1024


@dataclass(frozen=True, slots=True)
class Saved:
    """What storing a source's posts added, and the source's own error, if it broke."""

    posts_added: int
    links_added: int
    error: ArchiverError | None = None
    posts_read: int = field(default=0, compare=False)  # new or already stored


def save_posts(db: Database, posts: Iterable[Post], *, run_id: int | None = None) -> Saved:
    """Store new posts, their links and which post shows which link; return what was added.

    Posts and links already stored are left as they are, so ingesting a source
    twice changes nothing.  A source that breaks half way keeps its good half: the
    posts read before the fault are stored and the fault is returned, not raised.
    """
    posts_added = links_added = posts_read = 0
    # 8 MB of page cache rather than SQLite's 2 MB, for the connection that ingests: a
    # large ingest updates five indexes and two full-text indexes at once, and with the
    # default cache a tenth of its time goes to reading back pages it has just written.
    db.execute(f"PRAGMA cache_size = -{INGEST_CACHE_KIB}")
    iterator = iter(posts)
    error: ArchiverError | None = None
    while error is None:
        batch: list[Post] = []
        try:
            batch.extend(islice(iterator, BATCH_SIZE))
        except ArchiverError as ex:
            error = ex
        if not batch:
            break
        posts_read += len(batch)
        added = _save_post_batch(db, batch, run_id=run_id)
        posts_added += added[0]
        links_added += added[1]
    return Saved(posts_added, links_added, error, posts_read)


def _save_post_batch(db: Database, batch: list[Post], *, run_id: int | None) -> tuple[int, int]:
    now = utc_now()
    posts: dict[str, dict[str, Any]] = {}
    links: dict[str, dict[str, Any]] = {}
    post_links: dict[tuple[str, str], dict[str, Any]] = {}
    for post in batch:
        row = _post_row(post, now, run_id)
        post_id = row["id"]  # cleaned: the key post_links refer to
        posts.setdefault(post_id, row)
        for found in post.links:
            lid = link_id(found.url)
            link = _link_row(found.url, lid, now, found.truncated, found.expanded_url) | {"run_id": run_id}
            links[lid] = _better_link_row(links[lid], link) if lid in links else link
            post_links.setdefault(
                (post_id, lid),
                {
                    "post_id": post_id,
                    "link_id": lid,
                    "position": found.position,
                    "found_by": found.found_by,
                    "display_url": _clean(found.display),
                },
            )
    try:
        with db.atomic():
            new_posts = _missing(db, "posts", list(posts))
            known = _known_links(db, list(links))
            new_links = [i for i in links if i not in known]
            insert_rows(db, "posts", [posts[i] for i in new_posts])
            insert_rows(db, "links", [links[i] for i in new_links])
            insert_rows(db, "post_links", list(post_links.values()), ignore=True)
            _complete_known_links(db, known, links, now)
    except sqlite3.Error as ex:
        raise DatabaseError(f"{database_path(db)}: {describe(ex)}") from ex
    return len(new_posts), len(new_links)


def _missing(db: Database, table: str, ids: list[str]) -> list[str]:
    found: set[str] = set()
    for chunk in chunks(ids, 500):
        marks = ",".join("?" * len(chunk))
        found.update(row[0] for row in db.execute(f"select id from {table} where id in ({marks})", chunk))
    return [i for i in ids if i not in found]


# One encoder for every row: json.dumps with an option builds a new one each call.
_JSON_ARRAY = json.JSONEncoder(ensure_ascii=False).encode


def _post_row(post: Post, now: str, run_id: int | None) -> dict[str, Any]:
    tags = [_clean(tag) for tag in post.hashtags]
    return {
        "id": post_key(_clean(post.platform), _clean(post.id), _clean(post.id_scope)),
        "platform": _clean(post.platform),
        "author_name": _clean(post.author_name),
        "author_handle": _clean(post.author_handle),
        "text": _clean(post.text),
        "posted_at": _clean(post.posted_at),
        "url": _clean(post.url),
        "source": _clean(post.source),
        "hashtags": _JSON_ARRAY(tags) if tags else "[]",
        "mentions": _JSON_ARRAY([_clean(name) for name in post.mentions]) if post.mentions else "[]",
        "first_seen_at": now,
        "run_id": run_id,
        "hashtags_folded": folded_tags(tags) if tags else "[]",
        "author_handle_folded": _clean(post.author_handle).casefold() if post.author_handle else None,
    }


def folded_tags(tags: Iterable[str]) -> str:
    """Return hashtags as one JSON array in one case (#AI and #ai are one facet value)."""
    return _JSON_ARRAY(list(dict.fromkeys(tag.casefold() for tag in tags)))


def _better_link_row(kept: dict[str, Any], seen: dict[str, Any]) -> dict[str, Any]:
    """Return the row of a link seen twice in a batch: whole over cut off, with an expansion."""
    if kept.get("status") == LinkStatus.TRUNCATED and seen.get("status") != LinkStatus.TRUNCATED:
        kept = seen | {"expanded_url": seen["expanded_url"] or kept["expanded_url"]}
    elif kept["expanded_url"] is None and seen["expanded_url"] is not None:
        kept = kept | {"expanded_url": seen["expanded_url"]}
    return kept


def _known_links(db: Database, ids: list[str]) -> dict[str, tuple[bool, bool]]:
    """Return, for the links already stored, whether each is cut off and has an expansion."""
    found: dict[str, tuple[bool, bool]] = {}
    for chunk in chunks(ids, 500):
        marks = ",".join("?" * len(chunk))
        sql = f"select id, status is 'truncated', expanded_url is not null from links where id in ({marks})"
        found.update((row[0], (bool(row[1]), bool(row[2]))) for row in db.execute(sql, chunk))
    return found


def _complete_known_links(
    db: Database, known: dict[str, tuple[bool, bool]], rows: dict[str, dict[str, Any]], now: str
) -> None:
    """Complete links already stored with what this batch knows of them.

    A link first seen cut off (``invalid``/``truncated``) and now given whole by a
    source becomes due; an expansion a source gives is recorded where none was.
    Neither ever undoes what an earlier source said: a whole link seen cut off in a
    later post stays whole, a recorded expansion stays.
    """
    whole, expansions = [], []
    for lid, (truncated, expanded) in known.items():
        row = rows[lid]
        if truncated and row.get("status") != LinkStatus.TRUNCATED:
            whole.append((now, lid))
        if not expanded and row["expanded_url"] is not None:
            expansions.append((row["expanded_url"], lid))
    if whole:
        db.conn.executemany(
            "update links set status = 'pending', error = null, next_check_at = ? "
            "where id = ? and status = 'truncated'",
            whole,
        )
    if expansions:
        db.conn.executemany(
            "update links set expanded_url = ? where id = ? and expanded_url is null", expansions
        )


@overload
def _clean(text: str) -> str: ...


@overload
def _clean(text: None) -> None: ...


def _clean(text: str | None) -> str | None:
    """Return text SQLite can hold and every tool can read: no NUL, no lone surrogate.

    A lone surrogate (JSON's ``"\\ud800"``) cannot be encoded as UTF-8 at all; it
    becomes U+FFFD, as an undecodable byte does when a source is read.
    """
    if text is None or (text.isascii() and "\x00" not in text):
        return text
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


def _link_row(url: str, lid: str, now: str, truncated: bool, expanded_url: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": lid,
        "url": url,
        "host": hostname(url),
        "is_shortener": int(is_shortener(url)),
        "expanded_url": expanded_url,
        "status": LinkStatus.PENDING,
        "first_seen_at": now,
        "consecutive_failures": 0,
        "next_check_at": now,
    }
    if truncated:
        # Cut short by an ellipsis: requesting it would record someone else's link.
        row.update(status=LinkStatus.TRUNCATED, next_check_at=None)
    return row
