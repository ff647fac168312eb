"""The copies table: where the copy of each answer read lies in the WARC files."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from ..urls import link_id
from .db import writes

__all__ = ["copies_size", "last_copy", "save_copies"]


@writes
def save_copies(
    db: Database, copies: list[tuple[Any, str | None, str | None]], *, run_id: int | None = None
) -> None:
    """Record where copies (``CopyRecord``, with the link whose chain asked or the source) were written."""
    rows = [
        [
            link_id(link) if link else None,
            source,
            copy.url,
            copy.status,
            copy.warc_file,
            copy.offset,
            copy.length,
            copy.payload_sha256,
            copy.bytes,
            int(copy.truncated),
            int(copy.revisit),
            copy.record_id,
            copy.recorded_at,
            run_id,
        ]
        for copy, link, source in copies
    ]
    with db.atomic():
        db.conn.executemany(
            "insert into copies (link_id, source, url, status, warc_file, offset, length, payload_sha256, "
            "bytes, truncated, revisit, record_id, recorded_at, run_id) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def last_copy(db: Database, url: str, payload_sha256: str) -> tuple[str, str] | None:
    """Return (record id, date) of the last whole copy of ``url`` with that payload, or None."""
    row = db.execute(
        "select record_id, recorded_at from copies where url = ? and payload_sha256 = ? and revisit = 0 "
        "and truncated = 0 order by recorded_at desc, id desc limit 1",
        [url, payload_sha256],
    ).fetchone()
    return (row[0], row[1]) if row else None


def copies_size(db: Database) -> tuple[int, int]:
    """Return how many copies are recorded and the bytes their records take."""
    row = db.execute("select count(*), coalesce(sum(length), 0) from copies").fetchone()
    return int(row[0]), int(row[1])
