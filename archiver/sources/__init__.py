"""Source formats: the registry, format detection and reading posts from a source.

A parser is a function ``parse(data: bytes, *, source: str) -> Iterator[Post]``
registered with ``@source(name, detect=...)``; ``detect`` gets the source's name
and first bytes and says whether the format fits.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..models import ParseError, Post, SourceUnavailable, UnknownFormat

__all__ = [
    "SOURCES",
    "Format",
    "detect_format",
    "expand_source",
    "is_url",
    "iter_posts",
    "parse_bytes",
    "read_source_list",
    "source",
]

# A file larger than this is not a post export anyone could mean: refuse it rather
# than read it into memory.
MAX_SOURCE_BYTES = 512 * 1024 * 1024

Parser = Callable[..., Iterator[Post]]
Detector = Callable[[str, bytes], bool]


@dataclass(frozen=True, slots=True)
class Format:
    """A registered source format."""

    name: str
    parse: Parser
    detect: Detector
    description: str


SOURCES: dict[str, Format] = {}


def source(name: str, *, detect: Detector) -> Callable[[Parser], Parser]:
    """Register a parser under ``name``; return the parser unchanged."""

    def register(parse: Parser) -> Parser:
        doc = (parse.__doc__ or "").strip().splitlines()
        SOURCES[name] = Format(name, parse, detect, doc[0] if doc else name)
        return parse

    return register


def detect_format(name: str, head: bytes) -> str:
    """Return the name of the first registered format that recognises the source."""
    for fmt in SOURCES.values():
        if fmt.detect(name, head):
            return fmt.name
    raise UnknownFormat(f"{name}: not a format archiver reads ({', '.join(SOURCES)})")


def parse_bytes(data: bytes, *, source: str, fmt: str | None = None) -> Iterator[Post]:
    """Return the posts of a source's bytes, detecting the format unless ``fmt`` names it."""
    name = fmt or detect_format(source, data[:8192])
    try:
        parser = SOURCES[name]
    except KeyError:
        raise UnknownFormat(f"unknown format {name!r} (known: {', '.join(SOURCES)})") from None
    return parser.parse(data, source=source)


def iter_posts(path: str | os.PathLike[str], fmt: str | None = None) -> Iterator[Post]:
    """Return the posts of one file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise ParseError(f"{path}: {size} bytes is larger than the {MAX_SOURCE_BYTES} byte limit")
        data = path.read_bytes()
    except OSError as ex:
        raise SourceUnavailable(f"{path}: {ex.strerror or ex}") from ex
    return parse_bytes(data, source=str(path), fmt=fmt)


def is_url(location: str) -> bool:
    """Return True when a source names an http(s) URL rather than a path."""
    return location.lower().startswith(("http://", "https://"))


def expand_source(location: str) -> list[str]:
    """Return the files a source stands for: itself, or every file under a directory.

    Hidden files and directories (``.git``, ``.DS_Store``) are skipped.
    """
    if is_url(location):
        return [location]
    path = Path(location)
    if path.is_dir():
        return [
            str(p)
            for p in sorted(path.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        ]
    if not path.exists():
        raise SourceUnavailable(f"{location}: no such file or directory")
    return [location]


def read_source_list(path: str | os.PathLike[str]) -> list[str]:
    """Return the sources listed in a sources file: one a line, ``#`` starts a comment.

    Relative paths are relative to the sources file's own directory, so the list
    means the same whatever directory cron starts in.
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
        if not is_url(entry) and not Path(entry).is_absolute():
            entry = str(path.parent / entry)
        entries.append(entry)
    return entries


# Register the built-in formats.
from . import page  # noqa: E402,F401
