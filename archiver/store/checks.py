"""The checks, redirects and probes tables, and the links' check columns: SQL only.

What a check means (its rot verdict, when the link is due again, whether a failure
keeps the last good chain) arrives decided, as ``CheckedLink`` values; the store
writes them and answers which links are due.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any

from sqlite_utils import Database

from ..domains import domain_or_host
from ..models import CheckedLink, Fingerprint, FirstGood, LinkHistory, LinkStatus, Probe, Resolution
from ..urls import hostname, link_id
from .db import chunks, insert_rows, writes

__all__ = ["DueLinks", "link_histories", "links_due", "save_checks"]

# The links columns a check sets; the final ones are kept from the last good check when
# ``keeps_last_good``, and resolved_at and last_ok_at change only with a good check.
_UPDATE_LINK = """
update links set
  status = :status, http_status = :http_status, error = :error, last_checked_at = :checked_at,
  final_url = case when :keep then final_url else :final_url end,
  final_host = case when :keep then final_host else :final_host end,
  final_domain = case when :keep then final_domain else :final_domain end,
  hops = case when :keep then hops else :hops end,
  title = case when :keep then title else :title end,
  resolved_at = case when :ok then :checked_at else resolved_at end,
  last_ok_at = case when :ok then :checked_at else last_ok_at end,
  first_failed_at = :first_failed_at, consecutive_failures = :consecutive_failures,
  next_check_at = :next_check_at, rot = :rot, rot_evidence = :rot_evidence, rot_since = :rot_since
where id = :id
"""


def links_due(
    db: Database,
    *,
    now: str,
    checked_before: str,
    by_age: Collection[LinkStatus],
    recheck_all: bool = False,
    limit: int | None = None,
) -> DueLinks:
    """Return (url, expanded_url) of the links to resolve: new first, then the others as due.

    A link whose status is in ``by_age`` is due once its last check is no later than
    ``checked_before``; any other once its ``next_check_at`` is no later than ``now``.
    With ``recheck_all`` every link is due but those shown cut off, which are never asked.
    The set is fixed when asked for and read a page at a time (see ``DueLinks``).
    """
    where = f"status is not '{LinkStatus.TRUNCATED}'"
    params: list[Any] = []
    if not recheck_all:
        statuses = ", ".join(f"'{status}'" for status in by_age) or "null"
        where += (
            f" and (case when status in ({statuses}) then last_checked_at <= ? else next_check_at <= ? end)"
        )
        params += [checked_before, now]
    sql = (
        f"select rowid as link_rowid from links where {where} "
        f"order by status = '{LinkStatus.PENDING}' desc, next_check_at, first_seen_at"
    )
    if limit is not None:
        sql += " limit ?"
        params.append(limit)
    db.execute("drop table if exists temp.due_links")
    db.execute(f"create temp table due_links as {sql}", params)
    return DueLinks(db, db.execute("select count(*) from temp.due_links").fetchone()[0])


class DueLinks:
    """The links a run resolves, in order, fixed when they were asked for.

    Their rowids wait in a temporary table of the connection that asked; the links are
    read from it a page at a time, so a run of a million links never holds them all.
    Iterable more than once (each time from the first); ``len`` is how many.
    """

    PAGE = 5000

    def __init__(self, db: Database, count: int) -> None:
        self._db = db
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __iter__(self) -> Iterator[tuple[str, str | None]]:
        after = 0
        while True:
            rows = self._db.execute(
                "select due.rowid, links.url, links.expanded_url from temp.due_links due "
                "join links on links.rowid = due.link_rowid where due.rowid > ? order by due.rowid limit ?",
                [after, self.PAGE],
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield row[1], row[2]
            after = rows[-1][0]


def link_histories(db: Database, urls: Iterable[str]) -> dict[str, LinkHistory]:
    """Return, by URL, what the archive knows of each stored link before its next check."""
    ids = {link_id(url): url for url in urls}
    first_good = _first_good_checks(db, list(ids))
    found: dict[str, LinkHistory] = {}
    columns = "id, consecutive_failures, first_failed_at, last_ok_at, rot, rot_since"
    for chunk in chunks(list(ids), 500):
        marks = ",".join("?" * len(chunk))
        for lid, failures, first_failed_at, last_ok_at, rot, rot_since in db.execute(
            f"select {columns} from links where id in ({marks})", chunk
        ).fetchall():
            found[ids[lid]] = LinkHistory(
                consecutive_failures=int(failures or 0),
                first_failed_at=first_failed_at,
                last_ok_at=last_ok_at,
                rot=rot,
                rot_since=rot_since,
                first_good=first_good.get(lid),
            )
    return found


def _first_good_checks(db: Database, ids: list[str]) -> dict[str, FirstGood]:
    """Return what the first good check of each link saw, for the links that had one."""
    found: dict[str, FirstGood] = {}
    for chunk in chunks(ids, 500):
        marks = ",".join("?" * len(chunk))
        rows = db.execute(
            "select link_id, checked_at, final_domain, title, text_hash from checks where id in ("
            f"select min(id) from checks where status = ? and link_id in ({marks}) group by link_id)",
            [LinkStatus.OK, *chunk],
        )
        for link, checked_at, final_domain, title, text_hash in rows.fetchall():
            found[link] = FirstGood(checked_at, final_domain, title, text_hash)
    return found


@writes
def save_checks(db: Database, checked: Sequence[CheckedLink], *, run_id: int | None = None) -> None:
    """Store a batch of checks in one transaction: the links' columns, redirect chains and checks.

    A failed check that keeps the last good one (``keeps_last_good``) leaves the final
    URL and the redirect chain as they were; status, error and the failure counters
    record the failure.
    """
    if not checked:
        return
    updates: list[dict[str, Any]] = []
    replaced: list[tuple[str]] = []
    hops: list[tuple[Any, ...]] = []
    checks: list[dict[str, Any]] = []
    probes: dict[str, Probe] = {}
    for one in checked:
        resolution = one.resolution
        lid = link_id(resolution.url)
        final_domain = domain_or_host(hostname(resolution.final_url or ""))
        updates.append(_link_values(lid, one, final_domain))
        if not one.keeps_last_good:
            replaced.append((lid,))
            hops += [(lid, i, h.url, h.status_code, h.via) for i, h in enumerate(resolution.hops)]
        checks.append(_check_row(lid, one, final_domain, run_id))
        if resolution.probe is not None:
            probes.setdefault(resolution.probe.origin, resolution.probe)
    with db.atomic():
        # One statement a table for the whole batch: the loop never waits long on SQLite.
        db.conn.executemany(_UPDATE_LINK, updates)
        db.conn.executemany("delete from redirects where link_id = ?", replaced)
        db.conn.executemany(
            "insert into redirects (link_id, hop, url, status_code, via) values (?, ?, ?, ?, ?)", hops
        )
        insert_rows(db, "checks", checks)
        _save_probes(db, probes.values(), run_id)


def _link_values(lid: str, one: CheckedLink, final_domain: str | None) -> dict[str, Any]:
    resolution = one.resolution
    return {
        "id": lid,
        "status": resolution.status,
        "http_status": resolution.http_status,
        "error": resolution.error,
        "checked_at": resolution.checked_at,
        "keep": one.keeps_last_good,
        "ok": resolution.ok,
        "final_url": resolution.final_url,
        "final_host": hostname(resolution.final_url or "") or None,
        "final_domain": final_domain,
        "hops": _redirect_count(resolution),
        "title": resolution.title,
        "first_failed_at": one.first_failed_at,
        "consecutive_failures": one.consecutive_failures,
        "next_check_at": one.next_check_at,
        "rot": one.rot,
        "rot_evidence": one.rot_evidence,
        "rot_since": one.rot_since,
    }


def _check_row(lid: str, one: CheckedLink, final_domain: str | None, run_id: int | None) -> dict[str, Any]:
    """Return the checks row of one check: what it reached, what the page showed, its verdict."""
    resolution = one.resolution
    page = resolution.fingerprint or Fingerprint()
    return {
        "link_id": lid,
        "run_id": run_id,
        "checked_at": resolution.checked_at,
        "status": resolution.status,
        "http_status": resolution.http_status,
        "final_url": resolution.final_url,
        "final_domain": final_domain,
        "hops": _redirect_count(resolution),
        "error": resolution.error,
        "title": resolution.title if resolution.ok else None,
        "canonical_url": page.canonical_url,
        "og_title": page.og_title,
        "site_name": page.site_name,
        "language": page.language,
        "text_hash": page.text_hash,
        "words": page.words if resolution.fingerprint is not None else None,
        "rot": one.rot,
        "rot_evidence": one.rot_evidence,
    }


def _redirect_count(resolution: Resolution) -> int:
    return sum(1 for hop in resolution.hops if hop.via is not None)


def _save_probes(db: Database, probes: Iterable[Probe], run_id: int | None) -> None:
    """Record each host's probe once a run (a probe answers for every link of its host)."""
    rows = []
    for probe in probes:
        if (
            run_id is not None
            and db.execute(
                "select 1 from probes where run_id = ? and origin = ?", [run_id, probe.origin]
            ).fetchone()
        ):
            continue
        page = probe.fingerprint or Fingerprint()
        rows.append(
            (
                run_id,
                probe.origin,
                probe.url,
                probe.checked_at,
                probe.status,
                probe.http_status,
                probe.final_url,
                page.title,
                page.text_hash,
            )
        )
    db.conn.executemany(
        "insert into probes (run_id, origin, url, checked_at, status, http_status, final_url, title, "
        "text_hash) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
