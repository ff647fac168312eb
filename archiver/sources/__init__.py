"""Source formats: the registry, format detection and reading posts from a source.

A parser is a function ``parse(data: bytes, *, source: str) -> Iterator[Post]``
registered with ``@source(name, detect=...)``; ``detect`` gets the source's name
and first bytes and says whether the format fits.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..jsontext import load_json
from ..models import ParseError, Post, SourceFormat, SourceUnavailable, UnknownFormat
from .archives import ARCHIVE_FORMATS, Archive, ArchiveFormat, MembersRead, archive_of, open_archive
from .compressed import (
    DECOMPRESSION_ERRORS,
    compression_of,
    decompress_bytes,
    plain_name,
    read_all,
    read_head,
)
from .records import contained

__all__ = [
    "DEFAULT_BLUESKY_API",
    "LIVE_FORMATS",
    "SOURCES",
    "Cursor",
    "Fetched",
    "Following",
    "Format",
    "LiveSettings",
    "Page",
    "Paused",
    "Reading",
    "SourceEntry",
    "detect_format",
    "expand_source",
    "fetch_source",
    "is_url",
    "iter_posts",
    "parse_bytes",
    "parse_tokens",
    "read_source",
    "read_source_list",
    "source",
    "source_digest",
]

# A file larger than this is not a post export anyone could mean: refuse it rather
# than read it into memory.
MAX_SOURCE_BYTES = 512 * 1024 * 1024

Parser = Callable[..., Iterator[Post]]
Detector = Callable[[str, bytes], bool]
# Reads a file from its path, a piece at a time: ``stream(path, *, source, **options)``.
Streamer = Callable[..., Iterator[Post]]


@dataclass(frozen=True, slots=True)
class Format:
    """A registered source format."""

    name: str
    parse: Parser
    detect: Detector
    description: str
    options: frozenset[str] = frozenset()  # reading options the parser takes (text_column)
    stream: Streamer | None = None  # reads a file of any size in bounded memory


SOURCES: dict[str, Format] = {}


def source(
    name: str, *, detect: Detector, options: frozenset[str] = frozenset()
) -> Callable[[Parser], Parser]:
    """Register a parser under ``name``; return the parser unchanged."""

    def register(parse: Parser) -> Parser:
        doc = (parse.__doc__ or "").strip().splitlines()
        SOURCES[name] = Format(name, parse, detect, doc[0] if doc else name, options)
        return parse

    return register


def streamer(name: str) -> Callable[[Streamer], Streamer]:
    """Register the reader of a format's files from their path; return it unchanged."""

    def register(stream: Streamer) -> Streamer:
        SOURCES[name] = replace(SOURCES[name], stream=stream)
        return stream

    return register


def detect_format(name: str, head: bytes) -> str:
    """Return the name of the first registered format that recognises the source."""
    for fmt in SOURCES.values():
        try:
            fits = fmt.detect(name, head)
        except Exception:  # noqa: BLE001 - a detector that chokes on hostile bytes says no
            fits = False
        if fits:
            return fmt.name
    raise UnknownFormat(
        f"{name}: {describe_content(head)}, which is none of the formats archiver reads; "
        f"if it is one, name it with --format ({', '.join(SOURCES)})"
    )


def describe_content(head: bytes) -> str:
    """Return what the first bytes of a source look like, for a message (``a JSON object with keys …``)."""
    text = head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace").lstrip()
    if not text:
        return "an empty file"
    if "\x00" in text[:4096] or sum(not c.isprintable() and c not in "\t\r\n\f" for c in text[:4096]) > 8:
        return "binary data"
    if text[0] in "[{":
        try:
            value = load_json(text)
        except ValueError:
            value = None
        if text[0] == "[":
            return "a JSON array"
        names = (
            list(value)[:8]
            if isinstance(value, dict)
            else re.findall(r'"([^"\\]{1,40})"\s*:', text[:2000])[:8]
        )
        return f"a JSON object with the keys {', '.join(names)}" if names else "a JSON object"
    if text.startswith("<"):
        root = re.search(r"<([A-Za-z][\w:.-]*)", re.sub(r"<[?!][^>]*>", "", text[:4096]))
        return f"XML or HTML whose first element is <{root.group(1)}>" if root else "XML or HTML"
    first = text.splitlines()[0][:60]
    return f"text starting {first!r}"


def parse_bytes(
    data: bytes, *, source: str, fmt: str | None = None, text_column: str | None = None
) -> Iterator[Post]:
    """Return the posts of a source's bytes, detecting the format unless ``fmt`` names it.

    ``text_column`` names the column of a CSV source that holds the text.  Compressed
    bytes (a ``.jsonl.gz`` inside a zip, a feed URL serving a ``.xml.gz``) are read as
    what they hold.
    """
    if compression_of(data[:8]) is not None:
        try:
            data = decompress_bytes(data, MAX_SOURCE_BYTES)
        except DECOMPRESSION_ERRORS as ex:
            raise ParseError(f"{source}: cannot be decompressed ({type(ex).__name__}: {ex})") from ex
        if len(data) > MAX_SOURCE_BYTES:
            raise ParseError(f"{source}: holds more than the {MAX_SOURCE_BYTES} byte limit")
        source_name = plain_name(source)
    else:
        source_name = source
    parser = _format(fmt or detect_format(source_name, data[:8192]))
    return contained(
        parser.parse(data, source=source, **_options(parser, text_column=text_column)), source=source
    )


def _format(name: str) -> Format:
    try:
        return SOURCES[name]
    except KeyError:
        raise UnknownFormat(f"unknown format {name!r} (known: {', '.join(SOURCES)})") from None


def _options(parser: Format, **options: str | None) -> dict[str, str]:
    return {key: value for key, value in options.items() if value is not None and key in parser.options}


@dataclass(frozen=True)
class Reading:
    """A source opened once: the format it is read as (None: a mixed archive), and its posts."""

    format: str | None
    posts: Iterator[Post]
    # An archive's members as they are read (name, sha256, bytes); empty for a plain file.
    members: list[dict[str, str | int]] = field(default_factory=list)


def iter_posts(
    path: str | os.PathLike[str], fmt: str | None = None, *, text_column: str | None = None
) -> Iterator[Post]:
    """Return the posts of one source: a file, a folder or zip/tar of an archive export."""
    return read_source(path, fmt, text_column=text_column).posts


def read_source(
    path: str | os.PathLike[str], fmt: str | None = None, *, text_column: str | None = None
) -> Reading:
    """Open one source (a file, a folder, a zip/tar) once: its format and its posts."""
    path = Path(path)
    if not path.exists():
        raise SourceUnavailable(f"{path}: no such file or directory")
    archive = open_archive(path) if fmt is None or fmt in {a.name for a in ARCHIVE_FORMATS} else None
    if archive is not None:
        names = archive.names()
        kind = next((a for a in ARCHIVE_FORMATS if a.name == fmt), None) or archive_of(names)
        read = MembersRead(archive)
        return Reading(
            kind.name if kind else None, _archive_posts(read, names, kind, path, fmt), read.digests
        )
    try:
        # A compressed file is read as what it holds, whatever its suffix says.
        compression, head = read_head(path)
        compressed = compression is not None
        name = plain_name(str(path)) if compressed else str(path)
        parser = _format(fmt or detect_format(name, head))
        if parser.stream is not None:
            posts = parser.stream(path, source=str(path), **_options(parser, text_column=text_column))
            return Reading(parser.name, contained(posts, source=str(path)))
        size = path.stat().st_size
        if not compressed and size > MAX_SOURCE_BYTES:
            raise ParseError(f"{path}: {size} bytes is larger than the {MAX_SOURCE_BYTES} byte limit")
        data = read_all(path, MAX_SOURCE_BYTES) if compressed else path.read_bytes()
        if len(data) > MAX_SOURCE_BYTES:
            raise ParseError(f"{path}: holds more than the {MAX_SOURCE_BYTES} byte limit")
    except DECOMPRESSION_ERRORS as ex:
        raise ParseError(f"{path}: cannot be decompressed ({type(ex).__name__}: {ex})") from ex
    except OSError as ex:
        raise SourceUnavailable(f"{path}: {ex.strerror or ex}") from ex
    return Reading(parser.name, parse_bytes(data, source=str(path), fmt=parser.name, text_column=text_column))


def _archive_posts(
    archive: Archive, names: list[str], kind: ArchiveFormat | None, path: Path, fmt: str | None
) -> Iterator[Post]:
    if kind is not None:
        yield from contained(kind.parse(archive, str(path)), source=str(path))
        return
    if path.is_dir():
        raise UnknownFormat(f"{path}: a folder that is not a Twitter or Mastodon archive")
    found = False
    problems: list[str] = []  # members skipped (too large) or read in part, each said once
    for name in names:
        try:
            posts = parse_bytes(archive.read(name), source=f"{path}!{name}", fmt=fmt)
        except UnknownFormat:
            continue
        except ParseError as ex:
            problems.append(str(ex))
            continue
        found = True
        try:
            yield from posts
        except ParseError as ex:
            problems.append(str(ex))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ParseError(f"{problems[0]}{more}; the archive's other members were read")
    if not found:
        raise ParseError(
            f"{path}: no posts in it: not a Twitter or Mastodon archive, and no file in it is a known format"
        )


def is_url(location: str) -> bool:
    """Return True when a source names an http(s) URL rather than a path."""
    return location.lower().startswith(("http://", "https://"))


def expand_source(location: str) -> list[str]:
    """Return the sources a location stands for: itself, or what a folder holds.

    A folder that is an archive export (a Twitter archive's ``data/tweets.js``, a
    Mastodon ``outbox.json``) is one source; in any other folder each file is one,
    and archive exports found inside it are kept whole.  Hidden files are skipped, and
    so are symbolic links inside a folder: a ``loop -> ..`` would read the folder
    again (and the archive's own files), a link elsewhere would publish that file.
    """
    if is_url(location):
        return [location]
    path = Path(location)
    if not path.exists():
        raise SourceUnavailable(f"{location}: no such file or directory")
    if not path.is_dir() or _is_archive_folder(path):
        return [location]
    found: list[str] = []
    for child in sorted(path.iterdir()):
        if child.name.startswith(".") or child.is_symlink():
            continue
        if child.is_dir():
            found += expand_source(str(child))
        elif child.is_file():
            found.append(str(child))
    return found


def _is_archive_folder(path: Path) -> bool:
    # The files that name an export sit at most three folders down: data/tweets.js,
    # outbox.json, and the old Twitter archive's data/js/tweets/2013_01.js.
    names = [p.name for p in path.iterdir()]
    for folder in ("data", "js/tweets", "data/js/tweets"):
        if (path / folder).is_dir():
            names += [f"{folder}/{p.name}" for p in (path / folder).iterdir()]
    return archive_of(names) is not None


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """A source to read: a path or URL, the format it must be read as (None: detect it), and
    the name a public copy of the archive gives it instead of its path (None: the file name)."""

    location: str
    fmt: str | None = None
    name: str | None = None


def read_source_list(path: str | os.PathLike[str]) -> list[SourceEntry]:
    """Return the sources listed in a sources file: one a line, ``#`` starts a comment.

    A line may start with a format that the source must be read as (``feed
    https://example.org/rss``): a feed URL that one day serves an HTML page is then a
    failed read, not a post.  A line may end with the name a public copy shows instead
    of the path (``inbox/tips.zip as "Tip line export"``).  Relative paths are relative
    to the sources file's own directory, so the list means the same whatever directory
    cron starts in.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as ex:
        raise SourceUnavailable(f"{path}: {ex.strerror or ex}") from ex
    entries = []
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        entry = entry.split(" #", 1)[0].strip()
        name = None
        named = _NAMED.search(entry)
        if named is not None:
            name, entry = named.group(1).strip() or None, entry[: named.start()].strip()
        fmt = None
        first, _, rest = entry.partition(" ")
        if rest.strip() and (
            first in SOURCES or first in _LIVE or first in {a.name for a in ARCHIVE_FORMATS}
        ):
            fmt, entry = first, rest.strip()
        if not is_url(entry) and not Path(entry).is_absolute():
            entry = str(path.parent / entry)
        entries.append(SourceEntry(entry, fmt, name))
    return entries


# Followed sources (an account read through its platform's API) are named by these words.
_LIVE = frozenset({SourceFormat.MASTODON, SourceFormat.BLUESKY, SourceFormat.TELEGRAM})
# The end of a sources file line that names the source: as "Tip line export".
_NAMED = re.compile(r'\s+as\s+"([^"]*)"\s*$')


# Register the built-in formats; the catch-all page format last.
from . import feed, twitter_api, reddit, telegram, bluesky, jsonl, mastodon_outbox, twitter_archive, csv_rows  # noqa: E402,F401,I001
from . import page  # noqa: E402,F401
from .fetch import Fetched, fetch_source  # noqa: E402
from .api import Paused, parse_tokens  # noqa: E402
from .bluesky_api import DEFAULT_BLUESKY_API  # noqa: E402
from .follow import Cursor, Page  # noqa: E402
from .live import LIVE_FORMATS, Following, LiveSettings  # noqa: E402
from .digests import source_digest  # noqa: E402
