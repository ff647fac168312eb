"""The order of the steps: a run's lifecycle, then ingest, re-check and preserve.

The only part of archiver that knows the order: ``run`` takes the lock (``lock``), opens
the ``runs`` row, reads the sources (``ingest``), resolves what is due and stores each
result with its verdict and next check (``recheck``), and asks web archives
(``captures``); then it records how the run ended.  It never prints: messages go
through a ``report`` callback.
"""

from __future__ import annotations

from .captures import CaptureCounts, ask_archives, links_due_for_lookup, save_lookups
from .ingest import Reading, ReadingProgress, ingest_sources
from .lock import EXIT_ALREADY_RUNNING, run_lock
from .recheck import links_due, save_resolutions
from .run import Progress, RecheckSettings, RunOutcome, RunSettings, run

__all__ = [
    "EXIT_ALREADY_RUNNING",
    "CaptureCounts",
    "Progress",
    "Reading",
    "ReadingProgress",
    "RecheckSettings",
    "RunOutcome",
    "RunSettings",
    "ask_archives",
    "ingest_sources",
    "links_due",
    "links_due_for_lookup",
    "run",
    "run_lock",
    "save_lookups",
    "save_resolutions",
]
