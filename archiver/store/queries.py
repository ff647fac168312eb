"""Reading the archive whole: a table or a query's rows for export, and its counts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from sqlite_utils import Database

from ..models import DatabaseError
from .db import database_path

__all__ = ["query_rows", "stats", "table_rows"]


def table_rows(db: Database, name: str) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """Return the columns and the rows (streamed) of a table or view, by name."""
    if name not in db.table_names() and name not in db.view_names():
        names = [*db.table_names(), *db.view_names()]
        known = ", ".join(sorted(t for t in names if not t.startswith("_") and "_fts" not in t))
        raise KeyError(f"no table or view named {name!r} (known: {known})")
    columns = [c.name for c in db[name].columns]
    return columns, db.query(f"select * from [{name}]")


def query_rows(db: Database, sql: str) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """Return the columns and the rows (streamed) of a read-only query (a canned query's SQL)."""
    try:
        cursor = db.conn.execute(f"select * from ({sql})")
    except sqlite3.Error as ex:
        raise DatabaseError(f"{database_path(db)}: the query failed: {ex}") from ex
    columns = [d[0] for d in cursor.description]
    return columns, (dict(zip(columns, row, strict=True)) for row in cursor)


def stats(db: Database, *, top: int = 10) -> dict[str, Any]:
    """Return counts of posts and links, links by status, and the top final domains."""
    return {
        "posts": db.table("posts").count,
        "links": db.table("links").count,
        "by_status": dict(
            db.execute("select status, count(*) from links group by status order by count(*) desc").fetchall()
        ),
        "top_domains": db.execute(
            "select final_domain, count(*) from links where final_domain is not null "
            "group by final_domain order by count(*) desc, final_domain limit ?",
            [top],
        ).fetchall(),
        "runs": db.table("runs").count,
        "last_run": next(db.query("select * from runs order by id desc limit 1"), None),
    }
