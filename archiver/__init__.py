"""archiver: archive social-media posts and record where their links really go."""

from __future__ import annotations

__version__ = "0.1.0"

from .models import (  # noqa: E402
    AlreadyRunning,
    ArchiverError,
    DatabaseError,
    ParseError,
    SourceUnavailable,
    UnknownFormat,
)

__all__ = [
    "AlreadyRunning",
    "ArchiverError",
    "DatabaseError",
    "ParseError",
    "SourceUnavailable",
    "UnknownFormat",
    "__version__",
]
