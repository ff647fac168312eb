"""Opening the archive: creating or upgrading its tables, and what every write shares."""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlite_utils import Database

from ..models import DatabaseError
from .filesystems import ALLOW_NETWORK_FS, network_filesystem, network_filesystem_allowed
from .migrations import MIGRATIONS
from .schema import ForeignSchema, check_schema, distrust_schema
from .views import VIEWS

__all__ = [
    "checkpoint",
    "chunks",
    "copy_database",
    "database_path",
    "describe",
    "insert_rows",
    "open_database",
    "open_read_only",
    "reopen",
    "transaction",
    "writes",
]

T = TypeVar("T")

# Rows a multi-row INSERT carries at most; fewer where the SQLite library allows
# fewer parameters a statement (999 before SQLite 3.32).
ROWS_PER_STATEMENT = 1000


def open_database(path: str | os.PathLike[str]) -> Database:
    """Return the archive at ``path``, creating or upgrading its tables as needed.

    Its folder must exist: making it, and saying why it cannot be made, is the run's
    (``pipeline.prepare_database_folder``) or ``archiver init``'s.
    """
    path = Path(path)
    _refuse_network_filesystem(path)
    try:
        db = Database(path)
        db.execute("PRAGMA busy_timeout = 30000")
        _check_schema(db, path, views=False)
        db.enable_wal()
        _configure(db)
        # The views are made anew below: none of a file's own runs while it is upgraded.
        for name in db.view_names():
            db.execute(f"drop view if exists [{name}]")
        MIGRATIONS.apply(db)
        for name, sql in VIEWS.items():
            db.create_view(name, sql.strip(), replace=True)
    except (sqlite3.Error, OSError) as ex:
        raise DatabaseError(f"{path}: {describe(ex)}") from ex
    return db


def _refuse_network_filesystem(path: Path) -> None:
    """Refuse to write an archive on NFS, SMB and the like (see ``filesystems``), unless allowed."""
    kind = network_filesystem(path.parent)
    if kind is not None and not network_filesystem_allowed():
        raise DatabaseError(
            f"{path}: on a network file system ({kind}), where SQLite cannot keep an archive safe from "
            "corruption; keep the archive on a local disk, or, if no other machine ever opens it, set "
            f"{ALLOW_NETWORK_FS}=1"
        )


def _check_schema(db: Database, path: Path, *, views: bool) -> None:
    try:
        check_schema(db, views=views)
    except ForeignSchema as ex:
        db.close()
        raise ForeignSchema(f"{path}: {ex}") from ex


def open_read_only(path: str | os.PathLike[str]) -> Database:
    """Return the archive at ``path`` opened for reading only, for where it cannot be written.

    A database in write-ahead-log mode needs its ``-shm`` file even to be read; in a
    folder or on a disk that is read-only, that file cannot be made, so the archive is
    opened immutable (nothing can write it there either).  An archive whose tables are
    older than this archiver cannot be upgraded there, and says so.
    """
    path = Path(path)
    uri = path.resolve().as_uri()
    error: sqlite3.Error | None = None
    for mode in ("mode=ro", "immutable=1"):
        try:
            conn = sqlite3.connect(f"{uri}?{mode}", uri=True)
            distrust_schema(conn)
            conn.execute("select count(*) from sqlite_master").fetchone()
        except sqlite3.Error as ex:
            error = ex
            continue
        db = Database(conn)
        _check_schema(db, path, views=True)
        if MIGRATIONS.pending(db):
            db.close()
            raise DatabaseError(
                f"{path}: made by an older archiver, and cannot be brought up to date where it cannot "
                "be written; run archiver once where it can"
            )
        return db
    raise DatabaseError(f"{path}: {describe(error or sqlite3.Error('cannot be opened'))}")


def database_path(db: Database) -> str:
    """Return the file an open archive lives in."""
    return str(db.conn.execute("pragma database_list").fetchone()[2])


def reopen(path: str) -> Database:
    """Return another connection to an archive already opened once, e.g. for a writer thread."""
    other = Database(path)
    _configure(other)
    return other


def _configure(db: Database) -> None:
    db.execute("PRAGMA busy_timeout = 30000")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")


def describe(error: BaseException) -> str:
    """Return what an SQLite or file error means for the archive, and what to do about it."""
    message = str(error)
    if "file is not a database" in message or "malformed" in message:
        return f"not a usable SQLite database ({message}); move it aside to start a new archive"
    if "readonly" in message or "unable to open" in message or isinstance(error, PermissionError):
        return f"cannot write the database ({message}); check the file and its directory are writable"
    if "disk" in message and "full" in message:
        return f"the disk is full ({message})"
    return message


_P = ParamSpec("_P")
_R = TypeVar("_R")


def writes(function: Callable[Concatenate[Database, _P], _R]) -> Callable[Concatenate[Database, _P], _R]:
    """Make an SQLite failure of a write (a full disk, a read-only file) a DatabaseError."""

    def write(db: Database, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return function(db, *args, **kwargs)
        except sqlite3.Error as ex:
            raise DatabaseError(f"{database_path(db)}: {describe(ex)}") from ex

    functools.update_wrapper(write, function)
    return write


def transaction(db: Database) -> Any:
    """Return a context in which the writes are one transaction (nested: a savepoint)."""
    return db.atomic()


def checkpoint(db: Database) -> bool:
    """Copy the write-ahead log into the database and empty it; False if a reader held it.

    For the end of a run: while Datasette keeps the archive open, SQLite never removes
    the log, which would otherwise keep the size of the largest run.
    """
    busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return not busy


def copy_database(db: Database, target: str | os.PathLike[str]) -> None:
    """Write a consistent copy of the open archive to ``target``, which must not exist."""
    db.execute("VACUUM INTO ?", [str(target)])


def insert_rows(db: Database, table: str, rows: list[dict[str, Any]], *, ignore: bool = False) -> None:
    """Insert rows many to a statement: a large archive is 100,000s of them.

    One statement for many rows rather than one a row: SQLite opens a savepoint for
    each statement, and at each savepoint the full-text index writes out what it
    has gathered, so row-at-a-time inserts leave it thousands of tiny segments to
    merge (ten times the work of the inserts themselves).
    """
    if not rows:
        return
    columns = list(dict.fromkeys(column for row in rows for column in row))
    head = f"insert {'or ignore ' if ignore else ''}into {table} ({', '.join(columns)}) values "
    one = "(" + ", ".join("?" * len(columns)) + ")"
    variables = db.conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per_statement = max(1, min(ROWS_PER_STATEMENT, variables // len(columns)))
    for chunk in chunks(rows, per_statement):
        values = [row.get(c) for row in chunk for c in columns]
        db.conn.execute(head + ", ".join([one] * len(chunk)), values)


def chunks(items: list[T], size: int) -> Iterator[list[T]]:
    """Yield ``items`` in lists of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
