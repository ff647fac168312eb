"""The SQLite archive: SQL only, one module per table family.

``db`` opens the archive (creating or upgrading its tables: ``migrations``, frozen;
``schema`` refuses a file whose schema is not archiver's; ``views``), ``runs``,
``posts`` (posts, links, post_links), ``sources``, ``checks`` (checks, redirects,
probes, and a link's check columns), ``captures`` (lookups, captures, requests) and
``queries`` (a table or query whole, counts).  The store decides nothing: verdicts,
schedules, the best capture and public names arrive as values.
"""

from __future__ import annotations

from sqlite_utils import Database

from .captures import (
    capture_candidates,
    links_due_for_lookup,
    links_to_save,
    pending_saves,
    save_capture_request,
    save_lookups,
    saves_since,
    set_archived,
)
from .checks import DueLinks, link_histories, links_due, save_checks
from .copies import copies_size, last_copy, save_copies
from .db import (
    checkpoint,
    copy_database,
    database_path,
    describe,
    open_database,
    open_read_only,
    reopen,
    transaction,
)
from .evidence import COPIES_OF_CHAINS, chosen_posts_and_links, copies_for_links, link_pages, rows_about
from .posts import BATCH_SIZE, Saved, save_posts
from .queries import query_rows, stats, table_rows
from .runs import finish_run, run_counts, start_run
from .schema import distrust_schema
from .sources import list_sources, record_cursor, record_source, source_state

__all__ = [
    "COPIES_OF_CHAINS",
    "DueLinks",
    "BATCH_SIZE",
    "Database",
    "Saved",
    "capture_candidates",
    "checkpoint",
    "chosen_posts_and_links",
    "copies_for_links",
    "copies_size",
    "copy_database",
    "database_path",
    "describe",
    "distrust_schema",
    "finish_run",
    "last_copy",
    "link_histories",
    "link_pages",
    "links_due",
    "links_due_for_lookup",
    "links_to_save",
    "list_sources",
    "open_database",
    "open_read_only",
    "pending_saves",
    "record_cursor",
    "query_rows",
    "record_source",
    "reopen",
    "rows_about",
    "run_counts",
    "save_capture_request",
    "save_checks",
    "save_copies",
    "save_lookups",
    "save_posts",
    "saves_since",
    "set_archived",
    "source_state",
    "start_run",
    "stats",
    "table_rows",
    "transaction",
]
