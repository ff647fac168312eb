"""Reading large JSON arrays one element at a time, keeping what came before a fault."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..models import ParseError

__all__ = ["iter_json_array"]

_WHITESPACE = " \t\r\n"


def iter_json_array(text: str, *, source: str, start: int = 0) -> Iterator[Any]:
    """Yield the elements of the JSON array at ``text[start:]``, one by one.

    Elements before a broken one are yielded; then ParseError names the file and
    the character where the JSON breaks, so a half-good file keeps its good half.
    """
    decoder = json.JSONDecoder()
    position = _skip(text, start)
    if text[position : position + 1] != "[":
        raise ParseError(f"{source}: expected a JSON array at character {position}")
    position += 1
    count = 0
    while True:
        position = _skip(text, position)
        if text[position : position + 1] == "]":
            return
        try:
            element, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as ex:
            raise ParseError(
                f"{source}: broken JSON at character {ex.pos} after {count} good entries ({ex.msg})"
            ) from ex
        count += 1
        yield element
        position = _skip(text, position)
        following = text[position : position + 1]
        if following == ",":
            position += 1
        elif following == "]":
            return
        else:
            raise ParseError(
                f"{source}: broken JSON at character {position} after {count} good entries "
                "(the file is cut short)"
            )


def _skip(text: str, position: int) -> int:
    length = len(text)
    while position < length and text[position] in _WHITESPACE:
        position += 1
    return position
