"""Whether a database file holds an archive that archiver wrote, before any of its SQL runs.

A database file carries SQL of its own: views, triggers, column defaults, generated
columns, CHECK constraints and index expressions all run when the file is read or
written.  A stranger's ``.db`` handed to ``serve`` or ``archive --db`` could make a
table page compute ``zeroblob(1e9)``, or run a trigger during an upgrade.  Before
archiver reads or upgrades a database, every object in it must be one archiver writes:
its name and kind, and, for triggers and full-text tables, its very SQL; tables and
indexes may hold no expressions at all.

Connections that only read (Datasette's, a read-only archive's) also turn SQLite's
``trusted_schema`` off.  A connection that writes cannot: archiver's own full-text
triggers write to FTS5 tables, which that setting forbids in triggers.
"""

from __future__ import annotations

import functools
import re
import sqlite3

from sqlite_utils import Database

from ..models import DatabaseError
from .migrations import MIGRATIONS
from .views import VIEWS

__all__ = ["ForeignSchema", "check_schema", "distrust_schema"]

# SQLite's own tables; its automatic indexes have no SQL.
_INTERNAL_TABLES = frozenset(
    {"sqlite_sequence", "sqlite_stat1", "sqlite_stat2", "sqlite_stat3", "sqlite_stat4"}
)
# A column default archiver writes: a number, a string, NULL or the current time.
_LITERAL_DEFAULT = re.compile(
    r"-?\d+(?:\.\d+)?|'(?:[^']|'')*'|NULL|CURRENT_(?:TIME|DATE|TIMESTAMP)|TRUE|FALSE", re.IGNORECASE
)
_STRINGS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\[[^\]]*\]|`[^`]*`")


class ForeignSchema(DatabaseError):
    """The database holds SQL that archiver did not write."""


def distrust_schema(conn: sqlite3.Connection) -> None:
    """Keep functions with side effects out of the schema's views and defaults, for a reader."""
    conn.execute("PRAGMA trusted_schema = OFF")


@functools.cache
def _reference() -> dict[str, tuple[str, str]]:
    """Return the kind and SQL of every object a new archive holds, by name."""
    db = Database(memory=True)
    MIGRATIONS.apply(db)
    for name, sql in VIEWS.items():
        db.create_view(name, sql.strip(), replace=True)
    rows = db.execute("select name, type, coalesce(sql, '') from sqlite_master").fetchall()
    db.close()
    return {name: (kind, _normal(sql)) for name, kind, sql in rows}


def _normal(sql: str) -> str:
    return " ".join(sql.split())


def check_schema(db: Database, *, views: bool = True) -> None:
    """Raise ForeignSchema unless every object in ``db`` is one that archiver writes.

    ``views=False`` leaves the views' SQL unchecked, for a caller that replaces them
    all before reading anything.
    """
    reference = _reference()
    objects = db.execute("select type, name, coalesce(sql, '') from sqlite_master").fetchall()
    for kind, name, sql in objects:
        problem = _problem(db, kind, name, sql, reference.get(name), views=views)
        if problem:
            raise ForeignSchema(
                f"not an archive archiver wrote: {problem}. archiver opens only archives it made "
                "(make one with 'archiver init' or 'archiver archive --create')"
            )


def _problem(
    db: Database, kind: str, name: str, sql: str, known: tuple[str, str] | None, *, views: bool
) -> str | None:
    if name.startswith("sqlite_"):
        internal = (kind == "index" and not sql) or (kind == "table" and name in _INTERNAL_TABLES)
        return None if internal else f"{kind} {name!r} is none of SQLite's own"
    if known is None or known[0] != kind:
        return f"it holds a {kind} {name!r}"
    if kind == "trigger" or sql.upper().startswith("CREATE VIRTUAL TABLE"):
        return None if _normal(sql) == known[1] else f"its {kind} {name!r} is not archiver's"
    if kind == "view":
        return None if not views or _normal(sql) == known[1] else f"its view {name!r} is not archiver's"
    if kind == "table":
        return _table_problem(db, name, sql)
    if kind == "index":
        return _index_problem(db, name, sql)
    return f"it holds a {kind} {name!r}"


def _table_problem(db: Database, name: str, sql: str) -> str | None:
    if re.search(r"\b(?:CHECK|GENERATED|AS)\s*\(", _STRINGS.sub("''", sql), re.IGNORECASE):
        return f"table {name!r} computes values (CHECK or generated columns)"
    for column in db.execute("select name, dflt_value, hidden from pragma_table_xinfo(?)", [name]).fetchall():
        column_name, default, hidden = column
        if hidden in (2, 3):
            return f"column {name}.{column_name} is generated"
        if default is not None and not _LITERAL_DEFAULT.fullmatch(default.strip()):
            return f"column {name}.{column_name} defaults to an expression"
    return None


def _index_problem(db: Database, name: str, sql: str) -> str | None:
    if re.search(r"\bWHERE\b", _STRINGS.sub("''", sql), re.IGNORECASE):
        return f"index {name!r} is partial"
    if any(row[0] == -2 for row in db.execute("select cid from pragma_index_xinfo(?)", [name]).fetchall()):
        return f"index {name!r} indexes an expression"
    return None
