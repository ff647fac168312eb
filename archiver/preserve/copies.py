"""Copies of what each link showed: every answer read, kept as WARC 1.1 records in ``.warc.gz`` files.

Each answer archiver reads while checking a link or fetching a source becomes a
request record and a response record (warcio writes them; each is one gzip member).
The body is kept as it was read, decoded, up to a limit: a longer one is cut and its
record says ``WARC-Truncated: length``; the answer's own ``Content-Encoding``,
``Transfer-Encoding`` and ``Content-Length`` are kept as ``X-Archive-Orig-…``
headers, and ``Content-Length`` says what the record holds.  An answer whose payload
is the same as the last copy of its URL is a ``revisit`` record (profile
identical-payload-digest) instead of a second copy.

Files are written as ``NAME.warc.gz.open`` and renamed when closed, at 1 GB or at
the end of the run; a record is written whole with one write.  A file left ``.open``
by a killed run is cut back to its last whole record and renamed by the next
``CopyWriter`` on the folder, so every ``.warc.gz`` file is whole.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ..models import COPY_LIMIT, Exchange

__all__ = ["ROTATE_AT", "CopyRecord", "CopySettings", "CopyWriter", "copies_folder", "repair_copies"]

ROTATE_AT = 1024 * 1024 * 1024  # a WARC file is closed past this size
# gzip level of each record: 1 is a third of the CPU of warcio's 9, and the file a tenth larger.
COMPRESS_LEVEL = 1
OPEN_SUFFIX = ".open"
# Headers that describe the bytes as they travelled, not as they are kept.
_TRAVEL_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})


@dataclass(frozen=True, slots=True)
class CopySettings:
    """Whether copies are kept (--copies), where (--copies-dir), and how much of a body (--copy-limit)."""

    keep: bool = False
    folder: str | None = None  # None: copies/ beside the database
    limit: int = COPY_LIMIT
    rotate_at: int = ROTATE_AT


def copies_folder(settings: CopySettings, db_path: str) -> Path:
    """Return the folder the copies of an archive are written to."""
    return Path(settings.folder) if settings.folder else Path(db_path).resolve().parent / "copies"


@dataclass(frozen=True, slots=True)
class CopyRecord:
    """Where the copy of one answer was written."""

    url: str
    warc_file: str  # relative to the copies folder
    offset: int  # of the response (or revisit) record in the file
    length: int  # of that record, compressed
    payload_sha256: str  # hex, of the body kept
    bytes: int  # of the body kept
    recorded_at: str
    status: int
    truncated: bool
    revisit: bool
    record_id: str  # the response's WARC-Record-ID, what a later revisit refers to


# The last copy of a URL with a given payload: (record id, date) to refer a revisit to.
Previous = Callable[[str, str], tuple[str, str] | None]


class CopyWriter:
    """Writes exchanges into WARC files in one folder, rotating them at ``rotate_at`` bytes."""

    def __init__(
        self, folder: str | os.PathLike[str], *, rotate_at: int = ROTATE_AT, software: str = ""
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        repair_copies(self.folder)
        self.rotate_at = rotate_at
        self.software = software
        self._file: io.BufferedWriter | None = None
        self._name = ""
        self._size = 0

    def write(self, exchange: Exchange, *, previous: Previous | None = None) -> CopyRecord:
        """Write one exchange (request and response, or a revisit); return where its response lies."""
        sha256 = hashlib.sha256(exchange.body).hexdigest()
        earlier = previous(exchange.url, sha256) if previous is not None else None
        buffer = io.BytesIO()
        writer = WARCWriter(buffer, gzip=False, warc_version="1.1")
        http_headers = _response_headers(exchange)
        date = exchange.recorded_at
        if earlier is not None:
            refers_to, refers_date = earlier
            response = writer.create_revisit_record(
                exchange.url,
                _payload_digest(exchange.body),
                exchange.url,
                refers_date,
                http_headers=http_headers,
                warc_headers_dict={"WARC-Date": date, "WARC-Refers-To": refers_to},
            )
        else:
            headers = {"WARC-Date": date}
            if exchange.truncated:
                headers["WARC-Truncated"] = "length"
            response = writer.create_warc_record(
                exchange.url,
                "response",
                payload=io.BytesIO(exchange.body),
                length=len(exchange.body),
                http_headers=http_headers,
                warc_headers_dict=headers,
            )
        request = writer.create_warc_record(
            exchange.url,
            "request",
            http_headers=_request_headers(exchange),
            warc_headers_dict={
                "WARC-Date": date,
                "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
            },
        )
        # warcio serialises each record; each is then one gzip member of its own, compressed
        # at COMPRESS_LEVEL (warcio's own gzip is level 9: three times the CPU for 8 % less).
        writer.write_record(response)
        response_end = buffer.tell()
        writer.write_record(request)
        serialised = buffer.getbuffer()
        response_member = gzip.compress(serialised[:response_end], compresslevel=COMPRESS_LEVEL)
        request_member = gzip.compress(serialised[response_end:], compresslevel=COMPRESS_LEVEL)
        del serialised
        length = len(response_member)
        offset = self._append(response_member + request_member)
        return CopyRecord(
            exchange.url,
            self._name,
            offset,
            length,
            sha256,
            len(exchange.body),
            exchange.recorded_at,
            exchange.status,
            exchange.truncated,
            earlier is not None,
            str(response.rec_headers.get_header("WARC-Record-ID")),
        )

    def close(self) -> None:
        """Close the file being written and give it its final name."""
        if self._file is None:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        os.replace(self.folder / (self._name + OPEN_SUFFIX), self.folder / self._name)

    def _append(self, data: bytes) -> int:
        if self._file is not None and self._size + len(data) > self.rotate_at and self._size:
            self.close()
        if self._file is None:
            stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
            self._name = f"archiver-{stamp}-{uuid.uuid4().hex[:8]}.warc.gz"
            self._file = open(self.folder / (self._name + OPEN_SUFFIX), "wb")  # noqa: SIM115
            self._size = 0
            self._file.write(self._warcinfo())
            self._size = self._file.tell()
        offset = self._size
        try:
            self._file.write(data)  # the record whole, so a kill leaves at most one cut record
            self._file.flush()
        except OSError:
            # A full disk: what part of the record was written is taken back.
            self._file = _reopened_at(self._file, offset)
            raise
        self._size += len(data)
        return offset

    def _warcinfo(self) -> bytes:
        buffer = io.BytesIO()
        writer = WARCWriter(buffer, gzip=False, warc_version="1.1")
        info = {"software": self.software or "archiver", "format": "WARC File Format 1.1"}
        writer.write_record(writer.create_warcinfo_record(self._name, info))
        return gzip.compress(buffer.getvalue(), compresslevel=COMPRESS_LEVEL)


def _reopened_at(file: io.BufferedWriter, offset: int) -> io.BufferedWriter:
    """Return the file cut back to ``offset``: its buffer dropped, what went to disk past it removed."""
    path = file.name
    with contextlib.suppress(OSError):
        file.close()  # its flush may fail again; what it held is cut off below
    with open(path, "r+b") as raw:
        raw.truncate(offset)
    reopened = open(path, "ab")  # noqa: SIM115 - kept open for the next record
    return reopened


def repair_copies(folder: Path) -> list[str]:
    """Cut every file a killed run left ``.open`` back to its last whole record; rename it.

    Returns the names of the files repaired.  A file with no whole record is removed.
    """
    repaired = []
    for path in sorted(folder.glob(f"*.warc.gz{OPEN_SUFFIX}")):
        end = _whole_records_end(path)
        final = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
        if end == 0:
            path.unlink()
            continue
        with open(path, "r+b") as file:
            file.truncate(end)
        os.replace(path, final)
        repaired.append(final.name)
    return repaired


def _whole_records_end(path: Path) -> int:
    """Return the offset just past the last record of a WARC file that reads whole."""
    end = 0
    with open(path, "rb") as file:
        records = ArchiveIterator(file)
        try:
            for _record in records:
                records.read_to_end()
                end = records.get_record_offset() + records.get_record_length()
        except (ArchiveLoadFailed, EOFError, OSError, ValueError):
            pass
    return end


def _response_headers(exchange: Exchange) -> StatusAndHeaders:
    headers = []
    for name, value in exchange.response_headers:
        if name.lower() in _TRAVEL_HEADERS:
            headers.append((f"X-Archive-Orig-{name}", value))
        else:
            headers.append((name, value))
    headers.append(("Content-Length", str(len(exchange.body))))
    status = f"{exchange.status} {exchange.reason}".strip()
    return StatusAndHeaders(status, headers, protocol="HTTP/1.1")


def _request_headers(exchange: Exchange) -> StatusAndHeaders:
    target = exchange.url.split("://", 1)[-1]
    path = "/" + target.split("/", 1)[1] if "/" in target else "/"
    path = path.split("#", 1)[0]
    return StatusAndHeaders(
        f"{exchange.method} {path} HTTP/1.1", list(exchange.request_headers), is_http_request=True
    )


def _payload_digest(body: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode()  # noqa: S324 - WARC's digest
