"""Publishing the archive: Datasette with archiver's metadata and pages, snapshots and exports.

``metadata`` fits the shipped ``metadata.yml`` to the database served; ``serve`` starts
Datasette on the live file or on a public snapshot (``snapshot``: a consistent copy,
with no local paths in a public one); ``export`` writes a table or a query as CSV,
JSON or JSON Lines; ``datasette_plugin`` is how an archive reads in Datasette (link
and post pages, colours, what a public instance refuses).
"""

from __future__ import annotations

from .evidence import verify_evidence, write_evidence
from .export import EXPORT_FORMATS, write_rows
from .metadata import (
    canned_queries,
    database_name,
    for_database,
    load_metadata,
)
from .serve import datasette_app, prepare_serving, serve
from .snapshot import snapshot
from .timestamps import TimestampError

__all__ = [
    "EXPORT_FORMATS",
    "TimestampError",
    "canned_queries",
    "database_name",
    "datasette_app",
    "for_database",
    "load_metadata",
    "prepare_serving",
    "serve",
    "snapshot",
    "verify_evidence",
    "write_evidence",
    "write_rows",
]
