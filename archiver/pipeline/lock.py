"""One writing run per database at a time."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..models import AlreadyRunning, DatabaseError

__all__ = ["EXIT_ALREADY_RUNNING", "run_lock"]

# EX_TEMPFAIL: cron and systemd can tell "skipped, another run is busy" from a failure.
EXIT_ALREADY_RUNNING = 75


@contextmanager
def run_lock(db_path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on ``<db>.lock`` for the duration of a run.

    The kernel drops the lock when the process dies, even by kill -9, so a crashed
    run never leaves a stale lock behind.
    """
    lock_path = Path(f"{db_path}.lock")
    try:
        handle = open(lock_path, "a+")  # noqa: SIM115 - held for the whole run
    except OSError as ex:
        raise DatabaseError(f"{lock_path}: cannot create the lock file: {ex.strerror or ex}") from ex
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(
                f"another archiver run is writing {db_path} (lock {lock_path}); "
                "try again when it has finished"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()
