"""Preserving the evidence: rot verdicts, the re-check schedule, web-archive lookups and saves.

``rot`` judges whether a link still shows what was linked; ``checking`` turns a batch of
checks into what each means for its link; ``schedule`` says when a link is checked and
its captures looked up again; ``listing`` reads archives' lists of captures and picks
what a link keeps; ``archives`` asks the archives (lookups, Save Page Now); ``copies``
keeps the user's own copy of every answer read, as WARC records.
"""

from __future__ import annotations

from .archives import DEFAULT_ENDPOINTS, DEFAULT_SAVE_URL, ArchiveClient, CaptureSettings, SlowDown
from .checking import decide_checks
from .copies import CopyRecord, CopySettings, CopyWriter, copies_folder, repair_copies
from .listing import Endpoint, ListingError, best_capture, parse_cdx, parse_timemap, summarise
from .rot import CHANGED_BITS, DEAD_STATUSES, judge
from .schedule import (
    NOT_LOOKED_UP,
    RECHECKED_STATUSES,
    asked_since,
    checked_before,
    next_check,
    next_lookup,
)

__all__ = [
    "CHANGED_BITS",
    "DEAD_STATUSES",
    "DEFAULT_ENDPOINTS",
    "DEFAULT_SAVE_URL",
    "NOT_LOOKED_UP",
    "RECHECKED_STATUSES",
    "ArchiveClient",
    "CaptureSettings",
    "CopyRecord",
    "CopySettings",
    "CopyWriter",
    "Endpoint",
    "ListingError",
    "SlowDown",
    "asked_since",
    "best_capture",
    "checked_before",
    "copies_folder",
    "decide_checks",
    "judge",
    "next_check",
    "next_lookup",
    "parse_cdx",
    "parse_timemap",
    "repair_copies",
    "summarise",
]
