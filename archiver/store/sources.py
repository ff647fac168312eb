"""The sources table: what was read from where, when, and the validators for the next fetch."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from ..clock import utc_now
from ..models import SourceStatus
from .db import writes
from .posts import Saved

__all__ = ["list_sources", "record_cursor", "record_source", "source_state"]


def source_state(db: Database, location: str) -> dict[str, Any] | None:
    """Return what is recorded about a source (ETag, Last-Modified, last status), or None."""
    return next(db.query("select * from sources where location = ?", [location]), None)


@writes
def record_source(
    db: Database,
    location: str,
    *,
    status: SourceStatus,
    fmt: str | None = None,
    error: str | None = None,
    http_status: int | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    saved: Saved | None = None,
    public_name: str | None = None,
    digest: tuple[str, int] | None = None,
    members: list[dict[str, str | int]] | None = None,
) -> None:
    """Record the outcome of reading a source; keep its validators when none came back.

    ``public_name`` is what a public copy shows instead of the location (a name the
    sources file gives it); None shows the file name.  ``digest`` is a local source's
    SHA-256 and size as it was read; ``members`` the files of an archive or folder that
    were read, each by name, SHA-256 and size.
    """
    now = utc_now()
    previous = source_state(db, location) or {}
    row: dict[str, Any] = {
        "location": location,
        "format": fmt or previous.get("format"),
        "first_seen_at": previous.get("first_seen_at") or now,
        "last_fetched_at": now,
        "last_status": status,
        "last_error": error,
        "http_status": http_status,
        "etag": etag if etag is not None else previous.get("etag"),
        "last_modified": last_modified if last_modified is not None else previous.get("last_modified"),
        "posts_added": saved.posts_added if saved is not None else 0,
        "public_name": public_name,
    }
    if digest is not None:
        row["sha256"], row["bytes"] = digest
    if members:
        row["members"] = json.dumps(members)
    db.table("sources").upsert(row, pk="location")


@writes
def record_cursor(
    db: Database,
    location: str,
    cursor: str,
    *,
    read_back_to: str | None,
    read_up_to: str | None,
    whole_history: bool,
) -> None:
    """Record how far a followed source has been read, once a page of its posts is stored."""
    now = utc_now()
    with db.atomic():
        db.execute(
            "insert into sources (location, first_seen_at, last_fetched_at, posts_added, cursor, "
            "read_back_to, read_up_to, whole_history) values (?, ?, ?, 0, ?, ?, ?, ?) "
            "on conflict (location) do update set "
            "last_fetched_at = excluded.last_fetched_at, cursor = excluded.cursor, "
            "read_back_to = excluded.read_back_to, read_up_to = excluded.read_up_to, "
            "whole_history = excluded.whole_history",
            [location, now, now, cursor, read_back_to, read_up_to, int(whole_history)],
        )


def list_sources(db: Database) -> list[dict[str, Any]]:
    """Return every recorded source with the number of posts stored from it."""
    return list(
        db.query(
            "select sources.*, (select count(*) from posts where posts.source = sources.location "
            "or posts.source like sources.location || '!%') as posts "
            "from sources order by location"
        )
    )
