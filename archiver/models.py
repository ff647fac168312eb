"""Records shared by every stage, and the exception tree; the vocabulary (``vocabulary.py``) is
imported from here too, so a stage finds its records and their states in one place.

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

from .vocabulary import (
    MEANINGS,
    CaptureMode,
    CaptureRole,
    ExportFormat,
    FoundBy,
    LinkStatus,
    ListingKind,
    LookupStatus,
    Platform,
    Rot,
    RunStatus,
    SaveStatus,
    SourceFormat,
    SourceStatus,
    Via,
    described,
)

# Bytes of one answer's body kept as its copy (--copy-limit).
COPY_LIMIT = 16 * 1024 * 1024

__all__ = [
    "COPY_LIMIT",
    "MEANINGS",
    "AlreadyRunning",
    "ArchiverError",
    "Capture",
    "CaptureMode",
    "CaptureRole",
    "CheckedLink",
    "DatabaseError",
    "Exchange",
    "ExportFormat",
    "Fingerprint",
    "FirstGood",
    "FoundBy",
    "FoundLink",
    "Hop",
    "LinkHistory",
    "LinkStatus",
    "ListingKind",
    "LookupJob",
    "LookupResult",
    "LookupStatus",
    "ParseError",
    "Platform",
    "Post",
    "Probe",
    "Resolution",
    "Rot",
    "RunStatus",
    "SaveJob",
    "SaveResult",
    "SaveStatus",
    "SourceFormat",
    "SourceStatus",
    "SourceUnavailable",
    "Summary",
    "UnknownFormat",
    "Via",
    "described",
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
    found_by: FoundBy
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
class Exchange:
    """One request and the answer to it, as archiver sent and read them."""

    url: str
    recorded_at: str  # UTC, ISO 8601 with Z
    request_headers: tuple[tuple[str, str], ...]
    status: int
    reason: str
    response_headers: tuple[tuple[str, str], ...]
    body: bytes
    truncated: bool = False  # the body was cut at the copy limit
    method: str = "GET"


@dataclass(frozen=True, slots=True)
class Hop:
    """One URL visited while resolving a link, and how it was left."""

    url: str
    status_code: int | None  # None when no response came back
    via: Via | None = None  # None on the last hop


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What one check of a page saw (archiver.fingerprint takes it)."""

    title: str | None = None
    heading: str | None = None  # the first <h1>
    canonical_url: str | None = None
    og_title: str | None = None
    site_name: str | None = None  # og:site_name
    language: str | None = None  # <html lang>
    text_hash: str | None = None  # 64-bit simhash of the visible text, 16 hex digits
    words: int = 0  # words of visible text read
    excerpt: str = ""  # the start of the visible text, for the phrase rules; not stored

    def size(self) -> int:
        """Return roughly how many characters the fingerprint holds."""
        return sum(
            len(v or "")
            for v in (
                self.title,
                self.heading,
                self.canonical_url,
                self.og_title,
                self.site_name,
                self.excerpt,
            )
        )


@dataclass(frozen=True, slots=True)
class Probe:
    """What a host answered for a path that does not exist on it (one request a host a run)."""

    origin: str  # scheme://host[:port]
    url: str  # the path asked for
    status: LinkStatus
    checked_at: str
    http_status: int | None = None
    final_url: str | None = None
    fingerprint: Fingerprint | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    """The outcome of one attempt to resolve a link."""

    url: str
    status: LinkStatus
    hops: tuple[Hop, ...]
    checked_at: str
    http_status: int | None = None
    final_url: str | None = None
    error: str | None = None
    title: str | None = None
    retry_after: float | None = None  # seconds the server asked us to wait before trying again
    fingerprint: Fingerprint | None = None  # of the final page, when it was HTML
    probe: Probe | None = None  # the final host's answer for a path that does not exist

    @property
    def ok(self) -> bool:
        """Return True when the link reached a final page."""
        return self.status == LinkStatus.OK


@dataclass(frozen=True, slots=True)
class FirstGood:
    """What a link's first good check saw, to compare later checks with."""

    checked_at: str
    final_domain: str | None
    title: str | None
    text_hash: str | None


@dataclass(frozen=True, slots=True)
class LinkHistory:
    """What the archive knew of a link before a check: what its verdict and next check build on."""

    consecutive_failures: int = 0
    first_failed_at: str | None = None
    last_ok_at: str | None = None
    rot: str | None = None  # as stored
    rot_since: str | None = None
    first_good: FirstGood | None = None


@dataclass(frozen=True, slots=True)
class CheckedLink:
    """A resolution with what was decided of it: its rot verdict and when to check the link again."""

    resolution: Resolution
    rot: Rot | None
    rot_evidence: str | None
    rot_since: str | None
    consecutive_failures: int
    first_failed_at: str | None
    next_check_at: str | None
    # A failure after a good check: the last good final URL and its chain stay.
    keeps_last_good: bool


# -- web archives ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Capture:
    """One capture of a URL in a web archive."""

    url: str  # where the capture can be seen
    captured_at: str  # UTC, archiver's timestamp format
    http_status: int | None = None  # what the archive got, when it says


@dataclass(frozen=True, slots=True)
class Summary:
    """What a link keeps of a URL's captures in one archive."""

    count: int
    capped: bool  # the archive had more than it listed
    first: Capture | None
    latest: Capture | None
    closest: Capture | None  # to the date asked for


@dataclass(frozen=True, slots=True)
class LookupJob:
    """One URL of a link whose captures are looked up, and the date to look near."""

    link_id: str
    url: str
    near: str | None  # the earliest post carrying the link, else when the link was first seen


@dataclass(frozen=True, slots=True)
class LookupResult:
    """What one archive said of one URL."""

    job: LookupJob
    archive: str
    looked_up_at: str
    status: LookupStatus
    summary: Summary | None = None
    error: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class SaveJob:
    """One live link's final URL that no archive holds, to be captured."""

    link_id: str
    url: str


@dataclass(frozen=True, slots=True)
class SaveResult:
    """A Save Page Now request and where it stands."""

    job: SaveJob
    requested_at: str
    status: SaveStatus
    job_id: str | None = None
    capture_url: str | None = None
    captured_at: str | None = None
    message: str | None = None
