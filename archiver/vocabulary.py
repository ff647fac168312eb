"""archiver's vocabulary: every state it stores and every kind it names, each value with its meaning.

The values are what the database holds; ``MEANINGS`` says what each means, and the
column descriptions in metadata.yml and the docs are generated from it.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "MEANINGS",
    "CaptureMode",
    "CaptureRole",
    "ExportFormat",
    "FoundBy",
    "LinkStatus",
    "ListingKind",
    "LookupStatus",
    "Platform",
    "Rot",
    "RunStatus",
    "SaveStatus",
    "SourceFormat",
    "SourceStatus",
    "Via",
    "described",
]


# -- the vocabulary: every state archiver stores, defined once ---------------------------
# The values are what the database holds; MEANINGS says what each means, and the
# column descriptions in metadata.yml and the README are generated from it.


class LinkStatus(StrEnum):
    """The outcome of a link's last check (links.status, checks.status)."""

    PENDING = "pending"
    OK = "ok"
    HTTP_ERROR = "http_error"
    TIMEOUT = "timeout"
    DNS_ERROR = "dns_error"
    CONNECT_ERROR = "connect_error"
    TLS_ERROR = "tls_error"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    REDIRECT_LOOP = "redirect_loop"
    BLOCKED = "blocked"
    INVALID = "invalid"
    TRUNCATED = "truncated"


class FoundBy(StrEnum):
    """How a link was found in its post (post_links.found_by)."""

    ENTITY = "entity"
    HREF = "href"
    TEXT = "text"


class Via(StrEnum):
    """How a hop of a chain was left for the next (redirects.via); none on the last hop."""

    LOCATION = "location"
    REFRESH = "refresh"
    META = "meta"
    JS = "js"
    EXPANDED = "expanded"
    UNWRAPPED = "unwrapped"


class SourceStatus(StrEnum):
    """The outcome of the last read of a source (sources.last_status)."""

    OK = "ok"
    PARTIAL = "partial"
    NOT_MODIFIED = "not_modified"
    ERROR = "error"


class Rot(StrEnum):
    """Whether a link still shows what was linked (links.rot, checks.rot); none for links not checked."""

    NONE = "none"
    SOFT_404 = "soft_404"
    FRONT_PAGE = "front_page"
    PARKED = "parked"
    DOMAIN_CHANGED = "domain_changed"
    CONTENT_CHANGED = "content_changed"
    DEAD = "dead"


class LookupStatus(StrEnum):
    """The outcome of looking up a URL's captures in one web archive (capture_lookups.status)."""

    FOUND = "found"
    NONE = "none"
    FAILED = "failed"


class SaveStatus(StrEnum):
    """Where a request to capture a page stands (capture_requests.status)."""

    PENDING = "pending"
    SAVED = "saved"
    FAILED = "failed"


class RunStatus(StrEnum):
    """How a run ended (runs.status)."""

    RUNNING = "running"
    COMPLETED = "completed"
    TIME_LIMIT = "time_limit"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    UNFINISHED = "unfinished"


class Platform(StrEnum):
    """Where a post was published (posts.platform); a JSON Lines source may name others."""

    TWITTER = "twitter"
    MASTODON = "mastodon"
    BLUESKY = "bluesky"
    REDDIT = "reddit"
    TELEGRAM = "telegram"
    WEB = "web"


class SourceFormat(StrEnum):
    """How a source is read (sources.format, --format, a sources.txt line's first word)."""

    PAGE = "page"
    FEED = "feed"
    TWITTER_ARCHIVE = "twitter-archive"
    MASTODON_OUTBOX = "mastodon-outbox"
    TWITTER_API = "twitter-api"
    REDDIT = "reddit"
    REDDIT_EXPORT = "reddit-export"
    CSV = "csv"
    JSONL = "jsonl"
    TELEGRAM_EXPORT = "telegram-export"
    BLUESKY_REPO = "bluesky-repo"
    MASTODON = "mastodon"
    BLUESKY = "bluesky"
    TELEGRAM = "telegram"


class ExportFormat(StrEnum):
    """What ``archiver export`` writes (--format)."""

    CSV = "csv"
    JSON = "json"
    JSONL = "jsonl"


class CaptureMode(StrEnum):
    """Whether web archives are asked about links (--captures)."""

    OFF = "off"
    LOOKUP = "lookup"
    SAVE = "save"


class CaptureRole(StrEnum):
    """Why a capture is kept for a link's URL (captures.roles, comma-separated)."""

    FIRST = "first"
    CLOSEST = "closest"
    LATEST = "latest"
    SAVED = "saved"


class ListingKind(StrEnum):
    """How a web archive lists a URL's captures (--captures-endpoint)."""

    CDX = "cdx"
    TIMEMAP = "timemap"


# What each value means, by vocabulary (members of different vocabularies may share a value).
MEANINGS: dict[type[StrEnum], dict[str, str]] = {
    LinkStatus: {
        LinkStatus.PENDING: "not checked yet",
        LinkStatus.OK: "a final page answered 2xx",
        LinkStatus.HTTP_ERROR: "the last answer was an HTTP error; see http_status",
        LinkStatus.TIMEOUT: "no complete answer in time",
        LinkStatus.DNS_ERROR: "the name does not resolve",
        LinkStatus.CONNECT_ERROR: "no connection, or it broke",
        LinkStatus.TLS_ERROR: "bad certificate or TLS failure",
        LinkStatus.TOO_MANY_REDIRECTS: "more redirects than --max-hops",
        LinkStatus.REDIRECT_LOOP: "a redirect back to a URL of the chain",
        LinkStatus.BLOCKED: (
            "an address inside a private network or a port that is not a web port, refused for safety"
        ),
        LinkStatus.INVALID: "not a usable URL",
        LinkStatus.TRUNCATED: "shown cut short by an ellipsis; never requested",
    },
    FoundBy: {
        FoundBy.ENTITY: "a structured field of an archive export",
        FoundBy.HREF: "an HTML anchor",
        FoundBy.TEXT: "matched in the post's text",
    },
    Via: {
        Via.LOCATION: "a 3xx Location header",
        Via.REFRESH: "a Refresh header",
        Via.META: "an HTML meta refresh",
        Via.JS: "a one-line JavaScript redirect",
        Via.EXPANDED: "the source itself recorded where the link goes, so it was not requested",
        Via.UNWRAPPED: (
            "a redirector such as google.com/url?q= carried its target in the URL, so it was not requested"
        ),
    },
    SourceStatus: {
        SourceStatus.OK: "read whole",
        SourceStatus.PARTIAL: "some posts read before an error",
        SourceStatus.NOT_MODIFIED: "a live feed answered 304",
        SourceStatus.ERROR: "could not be read",
    },
    Rot: {
        Rot.NONE: "the page answered and nothing suggests it is not the page that was linked",
        Rot.SOFT_404: (
            "answered 2xx, but its title or heading says not found, or it is what the host answers"
            " for a path that does not exist"
        ),
        Rot.FRONT_PAGE: "a deep link now lands on the site's front page, or on a login or consent page",
        Rot.PARKED: "the page or its chain belongs to a domain-parking or domain-sale service",
        Rot.DOMAIN_CHANGED: "ends on another registered domain than at its first good check",
        Rot.CONTENT_CHANGED: "the page's text is unlike what its first good check saw",
        Rot.DEAD: "the last check failed; see status",
    },
    LookupStatus: {
        LookupStatus.FOUND: "the archive lists captures of the URL",
        LookupStatus.NONE: "the archive has no capture of the URL",
        LookupStatus.FAILED: "the archive could not be asked or gave no usable answer; tried again later",
    },
    SaveStatus: {
        SaveStatus.PENDING: "asked; the archive has not said yet whether the capture worked",
        SaveStatus.SAVED: "captured; see capture_url",
        SaveStatus.FAILED: "the archive refused or could not capture the page; see message",
    },
    Platform: {
        Platform.TWITTER: "a tweet: an archive export, a collector's file, or embedded in a page",
        Platform.MASTODON: "a Mastodon post: through the API, an outbox export or a feed",
        Platform.BLUESKY: "a Bluesky post: through the API, a repository file, a feed, or embedded in a page",
        Platform.REDDIT: "a Reddit submission or comment: a Pushshift dump or Reddit's data export",
        Platform.TELEGRAM: "a Telegram message: a Telegram Desktop export or a public channel's web preview",
        Platform.WEB: "a page or a feed item of no social platform",
    },
    SourceFormat: {
        SourceFormat.PAGE: "a web page, text or Markdown file with embedded posts",
        SourceFormat.FEED: "an RSS or Atom feed, a file or a URL",
        SourceFormat.TWITTER_ARCHIVE: "a Twitter/X archive export, or its tweets file",
        SourceFormat.MASTODON_OUTBOX: "a Mastodon archive export, or its outbox.json",
        SourceFormat.TWITTER_API: "twarc2 output (raw or flattened) or Twitter API v1.1 tweets, a line each",
        SourceFormat.REDDIT: "Pushshift or Arctic Shift submissions and comments, a line each",
        SourceFormat.REDDIT_EXPORT: "Reddit's data export of an account: posts.csv, comments.csv",
        SourceFormat.CSV: "a table of posts with a header row",
        SourceFormat.JSONL: "one JSON object a line, a post each",
        SourceFormat.TELEGRAM_EXPORT: "a Telegram Desktop export (result.json): one chat or a whole account",
        SourceFormat.BLUESKY_REPO: "a Bluesky repository file (CAR), as com.atproto.sync.getRepo gives it",
        SourceFormat.MASTODON: "a Mastodon account or hashtag, followed through the instance's public API",
        SourceFormat.BLUESKY: "a Bluesky account, followed through the public AppView",
        SourceFormat.TELEGRAM: "a public Telegram channel, followed through its web preview (t.me/s/NAME)",
    },
    ExportFormat: {
        ExportFormat.CSV: "comma-separated values, with a header row",
        ExportFormat.JSON: "one JSON array of objects",
        ExportFormat.JSONL: "one JSON object a line",
    },
    CaptureMode: {
        CaptureMode.OFF: "web archives are not asked",
        CaptureMode.LOOKUP: "archives are asked which captures they hold of each link",
        CaptureMode.SAVE: "looked up, and the Internet Archive is asked to capture live links it lacks",
    },
    CaptureRole: {
        CaptureRole.FIRST: "the archive's earliest capture of the URL",
        CaptureRole.CLOSEST: "the capture nearest the date of the earliest post carrying the link",
        CaptureRole.LATEST: "the archive's latest capture of the URL",
        CaptureRole.SAVED: "made when archiver asked for it",
    },
    ListingKind: {
        ListingKind.CDX: "a CDX API (its path ends in /cdx)",
        ListingKind.TIMEMAP: "a Memento TimeMap prefix; the URL is appended",
    },
    RunStatus: {
        RunStatus.RUNNING: "still going",
        RunStatus.COMPLETED: "done",
        RunStatus.TIME_LIMIT: "stopped by --time-limit; what was left waits for the next run",
        RunStatus.INTERRUPTED: "stopped by Ctrl-C or SIGTERM",
        RunStatus.FAILED: "stopped by an error, which runs.error names",
        RunStatus.UNFINISHED: "killed or cut off before it could record its end; marked by the next run",
    },
}


def described(vocabulary: type[StrEnum]) -> str:
    """Return every value of a vocabulary with its meaning, as one line for a description."""
    return ", ".join(f"{member.value} ({MEANINGS[vocabulary][member]})" for member in vocabulary)
