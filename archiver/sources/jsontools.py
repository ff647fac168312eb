"""Reading large JSON arrays one element at a time, keeping what came before a fault."""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Iterator
from typing import Any, Protocol

from ..models import ParseError

__all__ = ["Readable", "iter_json_array"]


class Readable(Protocol):
    """A stream of bytes: a file, a member of an archive."""

    def read(self, size: int = -1, /) -> bytes: ...


_WHITESPACE = " \t\r\n"
# Bytes decoded at a time: the text of the whole file never sits in memory at once,
# which for a 160 MB tweets.js with emoji would be 650 MB of str.
CHUNK_BYTES = 1 << 20


class _Text:
    """A window of decoded text over a stream of bytes, grown on demand and trimmed behind."""

    def __init__(self, stream: Readable, head: bytes = b"") -> None:
        self._stream = stream
        self._head = head  # bytes already taken from the stream, which come first
        self._ended = False
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.text = ""
        self.consumed = 0  # characters dropped from the front of the window

    def more(self) -> bool:
        """Decode the next chunk into the window; return False at the end of the data."""
        if self._ended:
            return False
        if self._head:
            chunk, self._head = self._head, b""
        else:
            chunk = self._stream.read(CHUNK_BYTES)
        if chunk:
            self.text += self._decoder.decode(chunk)
            return True
        self._ended = True
        rest = self._decoder.decode(b"", final=True)  # a character the end cut in two
        self.text += rest
        return bool(rest)

    def trim(self, position: int) -> int:
        """Drop the text before ``position``; return the same place in the trimmed window."""
        if position > CHUNK_BYTES:
            self.text = self.text[position:]
            self.consumed += position
            return 0
        return position

    def skip(self, position: int) -> int:
        while True:
            while position < len(self.text) and self.text[position] in _WHITESPACE:
                position += 1
            if position < len(self.text) or not self.more():
                return position


def iter_json_array(
    data: bytes | Readable, *, source: str, start: int = 0, head: bytes = b""
) -> Iterator[Any]:
    """Yield the elements of the JSON array that starts at byte ``start``, one by one.

    ``data`` is the bytes, or a stream read a megabyte at a time (``head``: what was
    already read of it, which comes first).  Elements before a broken one are yielded;
    then ParseError names the file and the character where the JSON breaks, so a
    half-good file keeps its good half.
    """
    decoder = json.JSONDecoder()
    if isinstance(data, bytes):
        buffer = io.BytesIO(data)  # shares the bytes, no copy
        buffer.seek(start)
        stream: Readable = buffer
    else:
        stream = data
    window = _Text(stream, head)
    position = window.skip(0)
    if window.text[position : position + 1] != "[":
        raise ParseError(f"{source}: expected a JSON array at character {window.consumed + position}")
    position += 1
    count = 0
    while True:
        position = window.skip(position)
        if window.text[position : position + 1] == "]":
            return
        while True:
            try:
                element, end = decoder.raw_decode(window.text, position)
                break
            except RecursionError as ex:
                raise ParseError(
                    f"{source}: JSON nested too deeply at character {window.consumed + position} after "
                    f"{count} good entries"
                ) from ex
            except json.JSONDecodeError as ex:
                # An element cut by the end of the window: decode more and try again.
                if window.more():
                    continue
                raise ParseError(
                    f"{source}: broken JSON at character {window.consumed + ex.pos} after {count} good "
                    f"entries ({ex.msg})"
                ) from ex
        count += 1
        yield element
        position = window.trim(window.skip(end))
        following = window.text[position : position + 1]
        if following == ",":
            position += 1
        elif following == "]":
            return
        else:
            raise ParseError(
                f"{source}: broken JSON at character {window.consumed + position} after {count} good "
                "entries (the file is cut short)"
            )
