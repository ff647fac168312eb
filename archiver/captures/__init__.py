"""Web-archive captures: where a link's page can still be seen, and asking for a capture (opt-in)."""

from __future__ import annotations

from .client import (
    DEFAULT_ENDPOINTS,
    DEFAULT_SAVE_URL,
    ArchiveClient,
    CaptureSettings,
    LookupJob,
    LookupResult,
    SaveJob,
    SaveResult,
)
from .listing import Capture, Endpoint, ListingError, Summary, parse_cdx, parse_timemap, summarise

__all__ = [
    "DEFAULT_ENDPOINTS",
    "DEFAULT_SAVE_URL",
    "ArchiveClient",
    "Capture",
    "CaptureSettings",
    "Endpoint",
    "ListingError",
    "LookupJob",
    "LookupResult",
    "SaveJob",
    "SaveResult",
    "Summary",
    "parse_cdx",
    "parse_timemap",
    "summarise",
]
