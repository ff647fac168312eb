"""An evidence package of chosen posts and links: a WACZ 1.1.1 file anyone can check and replay.

The package holds the copies of what those links showed (``archive/data.warc.gz``:
each kept answer of their chains, request and response, re-written by warcio, with the
first copy a revisit refers to), their CDXJ index (``indexes/index.cdx``, by
webrecorder's cdxj-indexer), one page per link (``pages/pages.jsonl``), what archiver
stored about them (``archiver/record.json``: their rows of posts, post_links, links,
redirects, checks, captures, copies, and the sources the posts were read from) and
``datapackage.json`` with the SHA-256 and size of every file, itself digested in
``datapackage-digest.json``.  Every file is stored in the zip uncompressed, as WACZ
asks of WARC files.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from cdxj_indexer import CDXJIndexer
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.warcwriter import WARCWriter

from .. import __version__, store
from ..http import ResolverSettings
from ..models import ArchiverError
from .timestamps import TokenCheck, check_token, request_timestamp

__all__ = ["Evidence", "verify_evidence", "write_evidence"]

WACZ_VERSION = "1.1.1"
WARC_PATH = "archive/data.warc.gz"
INDEX_PATH = "indexes/index.cdx"
PAGES_PATH = "pages/pages.jsonl"
RECORD_PATH = "archiver/record.json"


@dataclass
class Evidence:
    """What a package holds, and what was asked for that it could not."""

    path: Path
    posts: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    copies: int = 0
    missing: list[str] = field(default_factory=list)  # ids that are no post or link, copies not found


def write_evidence(
    db: store.Database,
    ids: Iterable[str],
    target: str | os.PathLike[str],
    *,
    copies_folder: str | os.PathLike[str],
    timestamp_url: str | None = None,
    settings: ResolverSettings | None = None,
) -> Evidence:
    """Write the evidence package of ``ids`` (post ids, link ids or link URLs) to ``target``.

    With ``timestamp_url``, the time-stamping authority there is asked for an RFC 3161
    token over ``datapackage.json``'s SHA-256, kept in ``datapackage-digest.json``;
    TimestampError when it cannot give one (no package is written then).  When no id
    names a post or link of the archive, ArchiverError, and nothing is written.
    """
    target = Path(target)
    posts, links, unknown = store.chosen_posts_and_links(db, list(ids))
    missing = [f"{u}: no post or link of the archive" for u in unknown]
    if not posts and not links:
        raise ArchiverError("; ".join(missing) or "no post or link named")
    evidence = Evidence(target, posts, links, missing=missing)
    rows = store.copies_for_links(db, links)
    folder = Path(copies_folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The copies go through a file beside the package, never memory: a package of
    # many links' copies can be larger than the machine's memory.
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.", dir=target.parent) as scratch:
        warc_path = Path(scratch) / WARC_PATH.rsplit("/", 1)[-1]
        kept: list[dict[str, Any]] = []
        with open(warc_path, "wb") as warc:
            writer = WARCWriter(warc, gzip=True, warc_version="1.1")
            for row in rows:
                if _copy_records(folder, row, writer):
                    kept.append(row)
                else:
                    missing_copy = f"{row['url']}: its copy of {row['recorded_at']} is not in {folder}"
                    evidence.missing.append(missing_copy)
        evidence.copies = len(kept)
        index_path = Path(scratch) / INDEX_PATH.rsplit("/", 1)[-1]
        _index(warc_path, index_path)
        members: dict[str, Path | bytes] = {
            WARC_PATH: warc_path,
            INDEX_PATH: index_path,
            PAGES_PATH: _pages(db, evidence.links, kept),
            RECORD_PATH: _record(db, evidence, kept),
        }
        _write_package(
            target,
            members,
            timestamp=(timestamp_url, settings or ResolverSettings()) if timestamp_url else None,
            title=f"archiver evidence: {len(evidence.posts)} post(s), {len(evidence.links)} link(s)",
        )
    return evidence


@dataclass
class Verification:
    """What checking a package found: its problems (none: every file matches), and its time-stamp."""

    problems: list[str] = field(default_factory=list)
    timestamp: TokenCheck | None = None


def verify_evidence(path: str | os.PathLike[str], *, roots: list[bytes] | None = None) -> Verification:
    """Check an evidence package: every file against its listed SHA-256 and size, the package's
    own digest, and its time-stamp token (its signature too, given the authority's ``roots``)."""
    verification = Verification()
    problems = verification.problems
    try:
        with zipfile.ZipFile(path) as package:
            names = set(package.namelist())
            datapackage = package.read("datapackage.json")
            digest = json.loads(package.read("datapackage-digest.json"))
            if digest.get("hash") != "sha256:" + hashlib.sha256(datapackage).hexdigest():
                problems.append("datapackage.json does not match the digest in datapackage-digest.json")
            listed = json.loads(datapackage).get("resources", [])
            for resource in listed:
                member = resource.get("path")
                if member not in names:
                    problems.append(f"{member}: listed, but not in the package")
                    continue
                with package.open(member) as data:
                    sha256, size = _digest(data)
                if resource.get("hash") != "sha256:" + sha256:
                    problems.append(f"{member}: its SHA-256 is not the one listed")
                if resource.get("bytes") != size:
                    problems.append(f"{member}: its size is not the one listed")
            unlisted = (
                names - {r.get("path") for r in listed} - {"datapackage.json", "datapackage-digest.json"}
            )
            problems += [f"{name}: in the package, but not listed" for name in sorted(unlisted)]
            if isinstance(digest.get("timestamp"), dict):
                verification.timestamp = check_token(datapackage, digest["timestamp"], roots or [])
                if verification.timestamp.problem:
                    problems.append(verification.timestamp.problem)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as ex:
        problems.append(f"{path}: not a readable evidence package ({ex})")
    return verification


def _copy_records(folder: Path, row: dict[str, Any], writer: WARCWriter) -> bool:
    """Write a copy's response (or revisit) record and the request after it; False when not found."""
    path = folder / row["warc_file"]
    if not path.exists():
        path = path.with_name(path.name + ".open")  # the file of a run still going
    try:
        with open(path, "rb") as file:
            file.seek(row["offset"])
            records = ArchiveIterator(file)
            first = next(records, None)
            if first is None or first.rec_headers.get_header("WARC-Record-ID") != row["record_id"]:
                return False
            writer.write_record(first)
            request = next(records, None)
            if request is not None and request.rec_type == "request":
                writer.write_record(request)
    except (OSError, ValueError, ArchiveLoadFailed):
        return False
    return True


def _index(warc: Path, index: Path) -> None:
    """Write the CDXJ index of the package's WARC file, sorted."""
    with open(warc, "rb") as stream, open(index, "w", encoding="utf-8") as out:
        CDXJIndexer(out, [stream], sort=True, filename=warc.name).process_all()


def _digest(stream: IO[bytes]) -> tuple[str, int]:
    """Return the SHA-256 (hex) and size of what ``stream`` holds, read a part at a time."""
    sha256, size = hashlib.sha256(), 0
    while part := stream.read(1024 * 1024):
        sha256.update(part)
        size += len(part)
    return sha256.hexdigest(), size


def _pages(db: store.Database, links: list[str], kept: list[dict[str, Any]]) -> bytes:
    """Return the page list: each link, at its first copy, named by its title or URL."""
    lines = [json.dumps({"format": "json-pages-1.0", "id": "pages", "title": "Links"})]
    pages = store.link_pages(db, links)
    for link in links:
        url, title = pages.get(link, (None, None))
        # Its own first copy, or the one its URL got while another link's chain asked it.
        first = next((row for row in kept if row["link_id"] == link or row["url"] == url), None)
        if first is None:
            continue
        url = url or first["url"]
        lines.append(json.dumps({"id": link, "url": url, "ts": first["recorded_at"], "title": title or url}))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _record(db: store.Database, evidence: Evidence, kept: list[dict[str, Any]]) -> bytes:
    """Return what archiver stored about the chosen posts and links, table by table."""
    tables = store.rows_about(db, evidence.posts, evidence.links, [row["id"] for row in kept])
    record = {
        "software": f"archiver {__version__}",
        "asked": evidence.posts + evidence.links,
        "tables": tables,
    }
    return json.dumps(record, indent=1, ensure_ascii=False, default=str).encode("utf-8")


def _write_package(
    target: Path,
    members: dict[str, Path | bytes],
    *,
    title: str,
    timestamp: tuple[str, ResolverSettings] | None = None,
) -> None:
    """Write the package's zip: ``members`` (a file's path, or bytes) and the datapackage files."""
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    resources = []
    for name, member in members.items():
        if isinstance(member, Path):
            with open(member, "rb") as stream:
                sha256, size = _digest(stream)
        else:
            sha256, size = hashlib.sha256(member).hexdigest(), len(member)
        resources.append(
            {"name": name.rsplit("/", 1)[-1].lower(), "path": name, "hash": "sha256:" + sha256, "bytes": size}
        )
    datapackage = json.dumps(
        {
            "profile": "data-package",
            "resources": resources,
            "title": title,
            "created": created,
            "wacz_version": WACZ_VERSION,
            "software": f"archiver {__version__}",
        },
        indent=2,
    ).encode("utf-8")
    digested: dict[str, Any] = {
        "path": "datapackage.json",
        "hash": "sha256:" + hashlib.sha256(datapackage).hexdigest(),
    }
    if timestamp is not None:
        digested["timestamp"] = request_timestamp(datapackage, *timestamp)
    digest = json.dumps(digested, indent=2).encode("utf-8")
    partial = target.with_name(target.name + ".partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as package:
            for name, member in [
                *members.items(),
                ("datapackage.json", datapackage),
                ("datapackage-digest.json", digest),
            ]:
                if isinstance(member, Path):
                    package.write(member, name)  # copied a part at a time
                else:
                    package.writestr(name, member)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)  # a full disk leaves no half package behind
        raise
