"""Records shared by every stage, and the exception tree.

Errors::

    ArchiverError               base class of every error archiver raises on purpose
     ├── UnknownFormat          no parser recognises a source
     ├── ParseError             a source could not be read as its format
     ├── SourceUnavailable      a named source is missing or unreadable
     ├── DatabaseError          the database file cannot be opened or written
     └── AlreadyRunning         another run holds the database's lock
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "AlreadyRunning",
    "ArchiverError",
    "DatabaseError",
    "FoundLink",
    "Hop",
    "ParseError",
    "Post",
    "Resolution",
    "SourceUnavailable",
    "UnknownFormat",
]


class ArchiverError(Exception):
    """Base class of every error archiver raises on purpose."""


class UnknownFormat(ArchiverError):
    """No parser recognises the source."""


class ParseError(ArchiverError):
    """The source could not be read as its format."""


class SourceUnavailable(ArchiverError):
    """A named source is missing or unreadable."""


class DatabaseError(ArchiverError):
    """The database file cannot be opened or written."""


class AlreadyRunning(ArchiverError):
    """Another run holds the database's lock."""


@dataclass(frozen=True, slots=True)
class FoundLink:
    """A link as it was found in a post, before any request."""

    url: str  # normalised absolute URL, the links.url key
    display: str  # the text the post showed for it
    found_by: str  # 'text' (matched in plain text) or 'href' (an HTML anchor)
    position: int  # order of appearance in the post, from 0
    truncated: bool = False  # cut short by an ellipsis: never requested
    expanded_url: str | None = None  # an expansion the source itself gives


@dataclass(frozen=True, slots=True)
class Post:
    """One archived post with the links found in it."""

    id: str
    platform: str
    author_name: str | None
    author_handle: str | None
    text: str
    posted_at: str | None
    url: str | None
    source: str
    hashtags: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    links: tuple[FoundLink, ...] = field(default=())
    # The source that vouches for ``id`` when a third party publishes the post (a feed
    # item's guid, a tweet embedded in a web page); None for a platform's own export.
    id_scope: str | None = None


@dataclass(frozen=True, slots=True)
class Hop:
    """One URL visited while resolving a link, and how it was left."""

    url: str
    status_code: int | None  # None when no response came back
    via: str | None = None  # 'location' | 'refresh' | 'meta' | 'js'; None on the last hop


@dataclass(frozen=True, slots=True)
class Resolution:
    """The outcome of one attempt to resolve a link."""

    url: str
    status: str  # ok, http_error, timeout, dns_error, connect_error, tls_error,
    # too_many_redirects, redirect_loop, blocked, invalid
    hops: tuple[Hop, ...]
    checked_at: str
    http_status: int | None = None
    final_url: str | None = None
    error: str | None = None
    title: str | None = None
    retry_after: float | None = None  # seconds the server asked us to wait before trying again

    @property
    def ok(self) -> bool:
        """Return True when the link reached a final page."""
        return self.status == "ok"
