"""A copy of the archive to publish: consistent, and in a public copy no local paths."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..models import DatabaseError
from ..store import Database, copy_database, describe

__all__ = ["public_source_name", "snapshot"]


def snapshot(db: Database, target: str | os.PathLike[str], *, public: bool = False) -> None:
    """Write a consistent copy of the archive to ``target``, replacing any older copy at once.

    A ``public`` copy holds no row of ``copies`` (where the copies of pages lie), and
    names local sources by their file name only (``posts.source``,
    ``sources.location``): the folders of the machine that built the archive can say
    whose it is, or who a source is.  URLs stay.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        copy_database(db, partial)
        if public:
            _without_local_paths(partial)
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as ex:
        partial.unlink(missing_ok=True)
        raise DatabaseError(f"{target}: cannot write the snapshot: {describe(ex)}") from ex


def public_source_name(location: str | None) -> str | None:
    """Return how a public copy names a source: a URL as it is, a local file by its name.

    A member of an archive keeps its path inside the archive (``export.zip!data/tweets.js``).
    """
    if not location or location.startswith(("http://", "https://")):
        return location
    outer, bang, inner = location.partition("!")
    name = outer.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or outer
    return f"{name}{bang}{inner}"


def _without_local_paths(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("select location, public_name from sources where public_name is not null")
        names: dict[str, str] = {str(location): str(name) for location, name in rows}

        def public(location: str | None) -> str | None:
            if location in names:
                return names[location]
            outer, bang, inner = (location or "").partition("!")
            if bang and outer in names:  # a member of a named archive
                return f"{names[outer]}!{inner}"
            return public_source_name(location)

        conn.create_function("public_source", 1, public, deterministic=True)
        conn.execute("update posts set source = public_source(source)")
        conn.execute("update sources set location = public_source(location), public_name = null")
        # The copies of what links showed stay with the archive they were made for.
        conn.execute("delete from copies")
    conn.close()
