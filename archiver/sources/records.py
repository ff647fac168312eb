"""Reading a source a record at a time, so that one hostile record never costs the others."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from ..models import ArchiverError, ParseError, Post

__all__ = ["contained", "each_record", "mapping_of", "stable_id", "text_of"]

T = TypeVar("T")


def each_record(records: Iterable[T], read: Callable[[T], Post | None], *, source: str) -> Iterator[Post]:
    """Yield ``read(record)`` for every record; skip and count the records it fails on.

    A record is text and structure written by strangers, and reading one can fail in
    ways no parser lists (a date past year 9999, a lone surrogate, nesting deeper than
    Python's stack): the record is skipped and, once the others are read, ParseError
    names the source, how many were skipped and why the first one was, so the source is
    recorded ``partial``.
    """
    skipped = 0
    first = ""
    for number, record in enumerate(records, start=1):
        try:
            post = read(record)
        except ArchiverError:
            raise
        except Exception as ex:  # noqa: BLE001 - any failure of one record is that record's
            skipped += 1
            first = first or f"record {number}: {type(ex).__name__}: {str(ex)[:200]}"
            continue
        if post is not None:
            yield post
    if skipped:
        raise ParseError(f"{source}: {skipped} record(s) could not be read (first: {first}); the others were")


def contained(posts: Iterator[Post], *, source: str) -> Iterator[Post]:
    """Yield the posts of a parser; turn a failure it did not foresee into ParseError.

    The posts read before the failure are kept and the run goes on with the next source.
    """
    count = 0
    try:
        for post in posts:
            count += 1
            yield post
    except ArchiverError:
        raise
    except Exception as ex:  # noqa: BLE001 - a source's failure is reported, never the run's
        raise ParseError(
            f"{source}: cannot be read past post {count} ({type(ex).__name__}: {str(ex)[:200]}); "
            "the posts before were kept"
        ) from ex


def text_of(value: Any) -> str:
    """Return a record's field when it is text, else "" (a number, a list, a null)."""
    return value if isinstance(value, str) else ""


def mapping_of(value: Any) -> dict[str, Any]:
    """Return a record's field when it is an object, else {} (a string, a list, a null)."""
    return value if isinstance(value, dict) else {}


def stable_id(*parts: str) -> str:
    """Return the id of a post its source gives none: ``h`` and 20 hex digits of its parts' hash."""
    return "h" + hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:20]
