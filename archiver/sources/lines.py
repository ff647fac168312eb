"""Reading a source of JSON lines a line at a time: a bad line costs only itself."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..jsontext import load_json
from ..models import ParseError, Post
from .compressed import open_text

__all__ = ["LineReader", "json_lines_of_bytes", "json_lines_of_file", "read_json_lines"]

# Makes the posts of one JSON line; None for a line that is not of the format.
LineReader = Callable[[Any], Iterable[Post] | None]


def read_json_lines(lines: Iterable[str], read: LineReader, *, source: str, what: str) -> Iterator[Post]:
    """Yield the posts of every line; a line that is not JSON, or not ``what``, is skipped and counted.

    Once the other lines are read, ParseError names how many were skipped and the first
    of them, so that the source is recorded ``partial``; a source of which no line is
    ``what`` is not of the format at all.
    """
    bad: list[int] = []
    good = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            posts = read(load_json(line))
            made = None if posts is None else list(posts)
        except Exception:  # noqa: BLE001 - a hostile line (nesting, a date past 9999) is that line's
            made = None
        if made is None:
            bad.append(number)
            continue
        good += 1
        yield from made
    if not bad:
        return
    if not good:
        raise ParseError(f"{source}: none of its {len(bad)} line(s) is {what}")
    raise ParseError(
        f"{source}: {len(bad)} line(s) are not {what} (first: line {bad[0]}); "
        f"the other {good} line(s) were read"
    )


def json_lines_of_bytes(data: bytes, read: LineReader, *, source: str, what: str) -> Iterator[Post]:
    """Yield the posts of a source's bytes, a line at a time."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", errors="replace")
    yield from read_json_lines(text, read, source=source, what=what)


def json_lines_of_file(
    path: str | os.PathLike[str], read: LineReader, *, source: str, what: str
) -> Iterator[Post]:
    """Yield the posts of a file of any size, compressed or not, a line at a time."""
    with open_text(path) as text:
        yield from read_json_lines(text, read, source=source, what=what)
