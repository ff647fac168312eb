"""A small archive with resolved, failed and pending links, for tests that serve it."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from conftest import FIXTURES

from archiver import pipeline, publish, store
from archiver.models import Hop, Resolution
from archiver.sources import iter_posts

ROOT = Path(__file__).resolve().parents[1]
T0 = "2026-01-01T00:00:00Z"


def build_archive(db_path: Path) -> Path:
    """Write the fixture archive to ``db_path`` and return it."""
    db = store.open_database(db_path)
    store.save_posts(db, iter_posts(FIXTURES / "page" / "embedded.txt"))
    pipeline.save_resolutions(
        db,
        [
            Resolution(
                "https://t.co/dLWAZRTC3H",
                "ok",
                (Hop("https://t.co/dLWAZRTC3H", 301, "location"), Hop("https://www.bbc.co.uk/news/a", 200)),
                T0,
                200,
                "https://www.bbc.co.uk/news/a",
                title="Summit statement in full",
            ),
            Resolution(
                "https://t.co/Z9ixm4GsEx",
                "dns_error",
                (Hop("https://t.co/Z9ixm4GsEx", None),),
                T0,
                error="cannot resolve t.co",
            ),
        ],
    )
    db.close()
    return db_path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(db_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start `archiver serve` on a free port and wait until it answers.

    It runs in the database's folder, not the repository: the metadata it serves with
    is the one shipped in the package.
    """
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "archiver",
            "serve",
            "--db",
            str(db_path),
            "--port",
            str(port),
            *extra,
        ],
        cwd=db_path.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/-/versions.json", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    process.wait()
    raise RuntimeError("archiver serve did not start")


@contextmanager
def served_archive(folder: Path, *extra: str, name: str = "archive.db") -> Iterator[tuple[str, Path]]:
    """Build the fixture archive in ``folder``, serve it, and stop the server afterwards."""
    db_path = build_archive(folder / name)
    process, base = start_server(db_path, *extra)
    try:
        yield base, db_path
    finally:
        process.terminate()
        process.wait(timeout=10)


class InProcess:
    """Datasette as ``archiver serve`` configures it, asked in-process: no port, no process.

    As Datasette's plugin-testing guide does (``Datasette(...).client``), on one event
    loop kept for the site's life so that its SQL threads are shared by every request.
    """

    def __init__(self, app: object) -> None:
        self._loop = asyncio.new_event_loop()
        self._app = app
        self._loop.run_until_complete(app.invoke_startup())  # type: ignore[attr-defined]

    def get(self, path: str, **options: object) -> httpx.Response:
        return self._loop.run_until_complete(self._app.client.get(path, **options))  # type: ignore[attr-defined]

    def close(self) -> None:
        self._loop.close()


def open_in_process(db_path: Path, *, public: bool = False) -> InProcess:
    """Return Datasette serving the archive at ``db_path`` in-process, as ``archiver serve`` would."""
    db = store.open_database(db_path)
    try:
        metadata = publish.for_database(publish.load_metadata(), publish.database_name(db_path))
        serving = publish.prepare_serving(db, db_path, metadata, public=public, scratch=db_path.parent)
    finally:
        db.close()
    return InProcess(publish.datasette_app(serving))


@contextmanager
def archive_in_process(
    folder: Path, *, public: bool = False, name: str = "archive.db"
) -> Iterator[tuple[InProcess, Path]]:
    """Build the fixture archive in ``folder`` and yield Datasette serving it in-process."""
    site = open_in_process(build_archive(folder / name), public=public)
    try:
        yield site, folder / name
    finally:
        site.close()
