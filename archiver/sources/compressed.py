"""Compressed sources: gzip, bzip2, xz and zstd, recognised by their first bytes and read as streams.

A research collector's output comes compressed (``tweets.jsonl.gz``, a Pushshift
``RS_2023-01.zst``): the file is decompressed as it is read, never whole, whatever its
suffix says.  Pushshift and Arctic Shift write zstd frames with a window of up to 2 GB,
which the reader must allow.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, BinaryIO, cast

import zstandard

__all__ = [
    "COMPRESSIONS",
    "DECOMPRESSION_ERRORS",
    "compression_of",
    "decompress_bytes",
    "decompressing",
    "open_binary",
    "open_text",
    "plain_name",
    "read_all",
    "read_head",
]

# The first bytes of each compressed format, as its specification writes them.
COMPRESSIONS = {
    "gzip": b"\x1f\x8b",
    "bzip2": b"BZh",
    "xz": b"\xfd7zXZ\x00",
    "zstd": b"\x28\xb5\x2f\xfd",
}
# What a damaged compressed file raises as it is read.
DECOMPRESSION_ERRORS = (EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError, gzip.BadGzipFile)
_SUFFIXES = (".gz", ".gzip", ".bz2", ".xz", ".zst", ".zstd")
# Pushshift dumps are compressed with --long=31: a 2 GB window.
ZSTD_MAX_WINDOW = 2**31
_CHUNK = 1024 * 1024


def compression_of(head: bytes) -> str | None:
    """Return the compression a file's first bytes show (``gzip``, ``zstd``…), or None."""
    return next((name for name, magic in COMPRESSIONS.items() if head.startswith(magic)), None)


def plain_name(name: str) -> str:
    """Return a file name without its compression suffix: ``tweets.jsonl`` for ``tweets.jsonl.gz``."""
    lower = name.lower()
    return next((name[: -len(s)] for s in _SUFFIXES if lower.endswith(s)), name)


@contextmanager
def open_binary(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a file for reading its content: decompressed as it is read when it is compressed."""
    with open(path, "rb") as raw, decompressing(raw) as stream:
        yield stream


@contextmanager
def decompressing(raw: IO[bytes]) -> Iterator[IO[bytes]]:
    """Return a stream of ``raw``'s content: itself, or decompressed as it is read."""
    start = raw.tell()
    kind = compression_of(raw.read(8))
    raw.seek(start)
    if kind is None:
        yield raw
    elif kind == "gzip":
        with gzip.GzipFile(fileobj=raw) as stream:
            yield cast(BinaryIO, stream)
    elif kind == "bzip2":
        with bz2.BZ2File(raw) as stream:
            yield stream
    elif kind == "xz":
        with lzma.LZMAFile(raw) as stream:
            yield stream
    else:
        reader = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW).stream_reader(
            raw, read_size=_CHUNK, read_across_frames=True
        )
        with io.BufferedReader(reader, buffer_size=_CHUNK) as stream:
            yield stream


def decompress_bytes(data: bytes, limit: int) -> bytes:
    """Return what compressed ``data`` holds (at most ``limit`` + 1 bytes), or ``data`` itself."""
    if compression_of(data[:8]) is None:
        return data
    with decompressing(io.BytesIO(data)) as stream:
        return stream.read(limit + 1)


@contextmanager
def open_text(path: str | os.PathLike[str], *, newline: str | None = None) -> Iterator[IO[str]]:
    """Open a file as UTF-8 text (a BOM dropped, undecodable bytes replaced), decompressing it."""
    with (
        open_binary(path) as stream,
        io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline=newline) as text,
    ):
        yield text


def read_head(path: str | os.PathLike[str], size: int = 8192) -> tuple[str | None, bytes]:
    """Return a file's compression (None: none) and the first ``size`` bytes of its content."""
    with open(path, "rb") as raw:
        kind = compression_of(raw.read(8))
        raw.seek(0)
        with decompressing(raw) as stream:
            return kind, stream.read(size)


def read_all(path: str | os.PathLike[str], limit: int) -> bytes:
    """Return a file's content, decompressed; at most ``limit`` + 1 bytes (so that more shows)."""
    with open_binary(path) as stream:
        return stream.read(limit + 1)
