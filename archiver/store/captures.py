"""The capture_lookups, captures and capture_requests tables, and the links' archived copy: SQL only.

When a URL is looked up again, which links are never looked up and which capture is a
link's best arrive as values from ``preserve``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from sqlite_utils import Database

from ..clock import utc_now
from ..models import Capture, CaptureRole, LinkStatus, LookupResult, LookupStatus, SaveResult, SaveStatus
from .db import writes

__all__ = [
    "capture_candidates",
    "links_due_for_lookup",
    "links_to_save",
    "pending_saves",
    "save_capture_request",
    "save_lookups",
    "saves_since",
    "set_archived",
]


def links_due_for_lookup(
    db: Database, *, now: str, skipped: Collection[LinkStatus], limit: int = 500
) -> list[tuple[str, str, str | None]]:
    """Return (link id, URL, near) of the URLs whose captures are due to be looked up.

    A link's final URL, and its own URL too when its check failed (the chain may have
    died before reaching a page); none of a link whose status is in ``skipped``.
    ``near`` is the earliest date of the posts carrying the link, else when it was first
    seen.  Failed links first.
    """
    skip = ", ".join(f"'{s}'" for s in skipped) or "null"
    rows = db.execute(
        f"""
        with wanted as (
          select id, final_url as url, status, first_seen_at from links
            where status not in ({skip}) and final_url is not null
          union
          select id, url, status, first_seen_at from links
            where status not in ({skip}, '{LinkStatus.OK}')
        )
        select wanted.id, wanted.url,
          coalesce((select min(posts.posted_at) from post_links join posts on posts.id = post_links.post_id
                    where post_links.link_id = wanted.id), wanted.first_seen_at) as near
        from wanted
        where not exists (
          select 1 from capture_lookups l
          where l.link_id = wanted.id and l.url = wanted.url and l.next_lookup_at > ?
        )
        order by wanted.status = '{LinkStatus.OK}', wanted.first_seen_at, wanted.url
        limit ?
        """,
        [now, limit],
    )
    return [(row[0], row[1], row[2]) for row in rows.fetchall()]


@writes
def save_lookups(
    db: Database, lookups: Iterable[tuple[LookupResult, str]], *, run_id: int | None = None
) -> set[str]:
    """Store what archives said of links' URLs, each with when to look it up again; return the links.

    The captures an archive listed in a summary (first, closest, latest) replace what it
    listed before; a capture asked for by archiver stays.
    """
    touched: set[str] = set()
    for result, next_lookup_at in lookups:
        job, summary = result.job, result.summary
        db.execute(
            "insert or replace into capture_lookups (link_id, url, archive, looked_up_at, status, "
            "captures, capped, near, error, next_lookup_at, run_id) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                job.link_id,
                job.url,
                result.archive,
                result.looked_up_at,
                result.status,
                summary.count if summary else None,
                int(summary.capped) if summary else None,
                job.near,
                result.error,
                next_lookup_at,
                run_id,
            ],
        )
        if summary is None or result.status == LookupStatus.FAILED:
            continue
        db.execute(
            "delete from captures where link_id = ? and url = ? and archive = ? and roles != ?",
            [job.link_id, job.url, result.archive, CaptureRole.SAVED],
        )
        roles: dict[str, list[str]] = {}
        kept: dict[str, Capture] = {}
        for role, capture in (
            (CaptureRole.FIRST, summary.first),
            (CaptureRole.CLOSEST, summary.closest),
            (CaptureRole.LATEST, summary.latest),
        ):
            if capture is not None:
                roles.setdefault(capture.url, []).append(role)
                kept[capture.url] = capture
        for url, capture in kept.items():
            db.execute(
                "insert or replace into captures (link_id, capture_url, url, archive, captured_at, "
                "http_status, roles, found_at) values (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    job.link_id,
                    url,
                    job.url,
                    result.archive,
                    capture.captured_at,
                    capture.http_status,
                    ",".join(roles[url]),
                    result.looked_up_at,
                ],
            )
        touched.add(job.link_id)
    return touched


def capture_candidates(db: Database, link: str) -> tuple[list[tuple[Capture, tuple[str, ...]]], str | None]:
    """Return a link's stored captures with their roles, and the date its captures are looked near."""
    near_row = db.execute(
        "select min(near) from capture_lookups where link_id = ? and near is not null", [link]
    ).fetchone()
    rows = db.execute(
        "select capture_url, captured_at, http_status, roles from captures where link_id = ?", [link]
    ).fetchall()
    captures = [(Capture(url, at, code), tuple((roles or "").split(","))) for url, at, code, roles in rows]
    return captures, (near_row[0] if near_row else None)


@writes
def set_archived(db: Database, link: str, best: Capture | None) -> None:
    """Set a link's archived_url and archived_at to its best capture, and its capture_count."""
    count = db.execute(
        "select sum(captures) from capture_lookups where link_id = ? and status = ?",
        [link, LookupStatus.FOUND],
    ).fetchone()[0]
    db.execute(
        "update links set archived_url = ?, archived_at = ?, capture_count = ? where id = ?",
        [best.url if best else None, best.captured_at if best else None, count or 0, link],
    )


def links_to_save(db: Database, *, asked_since: str, limit: int = 100) -> list[tuple[str, str]]:
    """Return (link id, final URL) of live links that no archive has a capture of, not asked lately.

    A link qualifies once every archive looked up its final URL and found none, and no
    capture of it was asked for after ``asked_since`` or is still pending.
    """
    rows = db.execute(
        f"""
        select links.id, links.final_url from links
        where links.status = '{LinkStatus.OK}' and links.final_url is not null
          and exists (select 1 from capture_lookups l where l.link_id = links.id and l.url = links.final_url)
          and not exists (
            select 1 from capture_lookups l where l.link_id = links.id and l.url = links.final_url
              and l.status != '{LookupStatus.NONE}')
          and not exists (
            select 1 from capture_requests r where r.link_id = links.id and r.url = links.final_url
              and (r.requested_at > ? or r.status = '{SaveStatus.PENDING}'))
        order by links.first_seen_at, links.rowid
        limit ?
        """,
        [asked_since, limit],
    )
    return [(row[0], row[1]) for row in rows.fetchall()]


def saves_since(db: Database, since: str) -> int:
    """Return how many captures were asked for since ``since``."""
    return int(
        db.execute("select count(*) from capture_requests where requested_at > ?", [since]).fetchone()[0]
    )


def pending_saves(db: Database) -> list[dict[str, Any]]:
    """Return the capture requests the archive has not answered yet, oldest first."""
    return list(
        db.query(
            "select * from capture_requests where status = ? order by requested_at", [SaveStatus.PENDING]
        )
    )


@writes
def save_capture_request(
    db: Database, result: SaveResult, *, archive: str, run_id: int | None, request_id: int | None = None
) -> int:
    """Record a capture request (a ``SaveResult``) or where it now stands; return its id.

    A capture made is also a capture of the link, and its lookup is due again; the
    link's best capture is then chosen anew (``set_archived``).
    """
    row = {
        "link_id": result.job.link_id,
        "url": result.job.url,
        "archive": archive,
        "requested_at": result.requested_at,
        "status": result.status,
        "job_id": result.job_id,
        "capture_url": result.capture_url,
        "captured_at": result.captured_at,
        "message": result.message,
        "run_id": run_id,
    }
    if request_id is None:
        cursor = db.execute(
            f"insert into capture_requests ({', '.join(row)}) values ({', '.join('?' * len(row))})",
            list(row.values()),
        )
        request_id = int(cursor.lastrowid or 0)
    else:
        db.table("capture_requests").update(request_id, {k: v for k, v in row.items() if k != "run_id"})
    if result.status == SaveStatus.SAVED and result.capture_url:
        db.execute(
            "insert or ignore into captures (link_id, capture_url, url, archive, captured_at, "
            "http_status, roles, found_at) values (?, ?, ?, ?, ?, null, ?, ?)",
            [
                result.job.link_id,
                result.capture_url,
                result.job.url,
                archive,
                result.captured_at,
                CaptureRole.SAVED,
                utc_now(),
            ],
        )
        db.execute(
            "update capture_lookups set next_lookup_at = ? where link_id = ? and url = ?",
            [utc_now(), result.job.link_id, result.job.url],
        )
    return request_id
