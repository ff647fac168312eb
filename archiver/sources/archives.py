"""Sources that are several files: a folder, a ``.zip`` or a ``.tar.gz``."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Protocol

from ..models import ParseError, Post

__all__ = [
    "ARCHIVE_FORMATS",
    "Archive",
    "ArchiveFormat",
    "Member",
    "MembersRead",
    "archive_format",
    "archive_of",
    "open_archive",
]

# A member larger than this is skipped with a message (as a plain file that large is
# refused): a zip bomb, not an export.  And no archive gives more than MAX_ARCHIVE_BYTES
# in all, so a 1 MB zip of a thousand large members cannot take the machine's memory.
MAX_MEMBER_BYTES = 512 * 1024 * 1024
MAX_ARCHIVE_BYTES = 4 * 1024 * 1024 * 1024


class _Budget:
    """The bytes an archive has given so far, against its limits."""

    def __init__(self, label: Path) -> None:
        self.label = label
        self.given = 0

    def check(self, name: str, size: int) -> None:
        """Raise ParseError when a member of ``size`` bytes is more than archiver reads."""
        if size > MAX_MEMBER_BYTES:
            raise ParseError(f"{self.label}!{name}: {size} bytes is more than archiver reads of one member")
        if self.given + size > MAX_ARCHIVE_BYTES:
            raise ParseError(
                f"{self.label}!{name}: the archive gives more than {MAX_ARCHIVE_BYTES} bytes in all"
            )
        self.given += size


class Archive(Protocol):
    """Named members of a multi-file source: read whole (small ones), or opened as a stream."""

    def names(self) -> list[str]: ...

    def read(self, name: str) -> bytes: ...

    def open(self, name: str) -> Member: ...


_MEMBER_ERRORS = (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, ValueError, zlib.error)


class Member:
    """A member of an archive read as a stream: bounded, digested as read, and its read
    errors ParseErrors that name it (``ARCHIVE!MEMBER``)."""

    def __init__(self, raw: IO[bytes], label: str) -> None:
        self._raw = raw
        self.label = label
        self._hash = hashlib.sha256()
        self.size = 0
        self.on_close: Callable[[Member], None] | None = None
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._raw.read(size)
        except _MEMBER_ERRORS as ex:
            raise ParseError(f"{self.label}: cannot be read ({type(ex).__name__}: {ex})") from ex
        self.size += len(data)
        if self.size > MAX_MEMBER_BYTES:
            raise ParseError(f"{self.label}: more than the {MAX_MEMBER_BYTES} bytes read of one member")
        self._hash.update(data)
        return data

    def sha256(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        """Close the member; its digest is then of all of it (what was not read is read now)."""
        if self.closed:
            return
        self.closed = True
        try:
            while self.read(1 << 20):
                pass
            if self.on_close is not None:
                self.on_close(self)
        except ParseError:
            pass  # a member that cannot be read to its end gets no digest
        finally:
            self._raw.close()

    def __enter__(self) -> Member:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FolderArchive:
    """A folder, its files named by their path relative to it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._budget = _Budget(path)

    def names(self) -> list[str]:
        return sorted(
            p.relative_to(self.path).as_posix()
            for p in self.path.rglob("*")
            if p.is_file() and not _hidden_or_linked(self.path, p)
        )

    def read(self, name: str) -> bytes:
        member = self.path / name
        self._budget.check(name, member.stat().st_size)
        return member.read_bytes()

    def open(self, name: str) -> Member:
        member = self.path / name
        self._budget.check(name, member.stat().st_size)
        return Member(member.open("rb"), f"{self.path}!{name}")


def _hidden_or_linked(root: Path, path: Path) -> bool:
    """Return True for a hidden file, or one reached through a symbolic link, under ``root``."""
    relative = path.relative_to(root)
    if any(part.startswith(".") for part in relative.parts):
        return True
    current = root
    for part in relative.parts:
        current = current / part
        if current.is_symlink():
            return True
    return False


class ZipArchive:
    """The members of a zip file."""

    def __init__(self, path: Path) -> None:
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as ex:
            raise ParseError(f"{path}: not a readable zip file ({ex})") from ex
        self.path = path
        self._budget = _Budget(path)

    def names(self) -> list[str]:
        return sorted(i.filename for i in self._zip.infolist() if not i.is_dir())

    def read(self, name: str) -> bytes:
        info = self._zip.getinfo(name)
        self._budget.check(name, info.file_size)
        try:
            return self._zip.read(name)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as ex:
            raise ParseError(f"{self.path}!{name}: cannot be read from the zip ({ex})") from ex

    def open(self, name: str) -> Member:
        info = self._zip.getinfo(name)
        self._budget.check(name, info.file_size)
        try:
            return Member(self._zip.open(info), f"{self.path}!{name}")
        except _MEMBER_ERRORS as ex:
            raise ParseError(f"{self.path}!{name}: cannot be read from the zip ({ex})") from ex


class TarArchive:
    """The members of a tar file, compressed or not."""

    def __init__(self, path: Path) -> None:
        try:
            self._tar = tarfile.open(path)  # noqa: SIM115 - members are read on demand
            self._members = {m.name.lstrip("./"): m for m in self._tar.getmembers() if m.isfile()}
        except (tarfile.TarError, OSError, EOFError) as ex:
            raise ParseError(f"{path}: not a readable tar file ({ex})") from ex
        self.path = path
        self._budget = _Budget(path)

    def names(self) -> list[str]:
        return sorted(self._members)

    def read(self, name: str) -> bytes:
        member = self._members[name]
        self._budget.check(name, member.size)
        try:
            handle = self._tar.extractfile(member)
            return handle.read() if handle else b""
        except (tarfile.TarError, OSError, EOFError) as ex:
            raise ParseError(f"{self.path}!{name}: cannot be read from the tar file ({ex})") from ex

    def open(self, name: str) -> Member:
        member = self._members[name]
        self._budget.check(name, member.size)
        try:
            handle = self._tar.extractfile(member)
        except _MEMBER_ERRORS as ex:
            raise ParseError(f"{self.path}!{name}: cannot be read from the tar file ({ex})") from ex
        return Member(handle if handle is not None else io.BytesIO(), f"{self.path}!{name}")


class MembersRead:
    """An archive whose members are digested as they are read: which files of an export
    the posts came from, each by its SHA-256 and size, in the order read."""

    def __init__(self, archive: Archive) -> None:
        self._archive = archive
        self.digests: list[dict[str, str | int]] = []
        self._seen: set[str] = set()

    def names(self) -> list[str]:
        return self._archive.names()

    def read(self, name: str) -> bytes:
        data = self._archive.read(name)
        self._record(name, hashlib.sha256(data).hexdigest(), len(data))
        return data

    def open(self, name: str) -> Member:
        member = self._archive.open(name)
        member.on_close = lambda read: self._record(name, read.sha256(), read.size)
        return member

    def _record(self, name: str, sha256: str, size: int) -> None:
        if name not in self._seen:  # a member read twice is listed once
            self._seen.add(name)
            self.digests.append({"name": name, "sha256": sha256, "bytes": size})


ArchiveParser = Callable[[Archive, str], Iterator[Post]]


@dataclass(frozen=True, slots=True)
class ArchiveFormat:
    """A format that spans several files, recognised by its members' names."""

    name: str
    detect: Callable[[list[str]], bool]
    parse: ArchiveParser


ARCHIVE_FORMATS: list[ArchiveFormat] = []


def archive_format(
    name: str, *, detect: Callable[[list[str]], bool]
) -> Callable[[ArchiveParser], ArchiveParser]:
    """Register an archive parser under ``name``; return it unchanged."""

    def register(parse: ArchiveParser) -> ArchiveParser:
        ARCHIVE_FORMATS.append(ArchiveFormat(name, detect, parse))
        return parse

    return register


def open_archive(path: str | os.PathLike[str]) -> Archive | None:
    """Return the archive a path stands for (folder, zip, tar), or None for a plain file."""
    path = Path(path)
    if path.is_dir():
        return FolderArchive(path)
    name = path.name.lower()
    if name.endswith(".zip"):
        return ZipArchive(path)
    if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
        return TarArchive(path)
    return None


def archive_of(names: list[str]) -> ArchiveFormat | None:
    """Return the archive format whose files these are, or None."""
    for fmt in ARCHIVE_FORMATS:
        if fmt.detect(names):
            return fmt
    return None


def member_name(name: str) -> str:
    """Return a member's file name without its folders."""
    return PurePosixPath(name).name
