"""The runs table: when each run started and ended, how, and what it stored."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from ..clock import utc_now
from ..models import RunStatus
from .db import writes

__all__ = ["finish_run", "run_counts", "start_run"]


@writes
def start_run(db: Database, command: str, *, now: str | None = None) -> int:
    """Record the start of a run and return its id.

    Call it holding the run lock (``pipeline.run_lock``): a run still marked 'running'
    then ended without saying so (killed, or the machine went down), and is marked
    'unfinished'.
    """
    with db.conn:
        db.execute("update runs set status = ? where status = ?", [RunStatus.UNFINISHED, RunStatus.RUNNING])
        row = {"command": command, "started_at": now or utc_now(), "status": RunStatus.RUNNING}
        table = db.table("runs").insert(row)
    return int(table.last_pk or 0)


def run_counts(db: Database, run_id: int) -> dict[str, Any]:
    """Return what a run stored, counted in the archive itself, however the run ended.

    ``posts_added`` and ``links_added`` are the posts and links first stored by it;
    ``checks`` maps each status to the checks it saved.
    """
    return {
        "posts_added": db.execute("select count(*) from posts where run_id = ?", [run_id]).fetchone()[0],
        "links_added": db.execute("select count(*) from links where run_id = ?", [run_id]).fetchone()[0],
        "checks": dict(
            db.execute(
                "select status, count(*) from checks where run_id = ? group by status order by status",
                [run_id],
            ).fetchall()
        ),
    }


@writes
def finish_run(
    db: Database,
    run_id: int,
    counts: dict[str, int],
    *,
    status: RunStatus = RunStatus.COMPLETED,
    error: str | None = None,
) -> None:
    """Record the end of a run with its counts, and the error that ended it if it failed."""
    db.table("runs").update(run_id, {**counts, "finished_at": utc_now(), "status": status, "error": error})
