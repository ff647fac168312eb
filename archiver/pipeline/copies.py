"""Keeping the copies of a run's answers: WARC records written, their places recorded in ``copies``."""

from __future__ import annotations

from .. import preserve, store
from ..models import Exchange

__all__ = ["CopyKeeper"]

# Copies recorded in one transaction.
ROWS_A_BATCH = 100


class CopyKeeper:
    """Writes the copies of a run's answers and records where they lie, from one thread only.

    The WARC file is opened with the first copy.  A copy that cannot be written (a full
    disk, a folder that cannot be written) is kept in ``failed`` to be reported once,
    and no more copies are tried in this run: the checks themselves go on.
    """

    def __init__(
        self, settings: preserve.CopySettings, db_path: str, db: store.Database, run_id: int
    ) -> None:
        self.settings = settings
        self.folder = preserve.copies_folder(settings, db_path)
        self.db = db
        self.run_id = run_id
        self.writer: preserve.CopyWriter | None = None
        self.failed: str | None = None
        self.pending: list[tuple[preserve.CopyRecord, str | None, str | None]] = []

    def keep(self, exchange: Exchange, link: str | None = None, *, source: str | None = None) -> None:
        """Write one answer's copy and record it, for the link whose chain asked or the source fetched."""
        if self.failed is not None:
            return
        try:
            if self.writer is None:
                self.writer = preserve.CopyWriter(self.folder, rotate_at=self.settings.rotate_at)
            written = self.writer.write(exchange, previous=self._previous)
        except OSError as ex:
            self.failed = (
                f"{self.folder}: copies cannot be written ({ex.strerror or ex}); no more copies this run"
            )
            return
        # Recorded in batches: a kill loses the rows of the last few copies (whose records
        # stay whole in their file), not a commit for every answer.
        self.pending.append((written, link, source))
        if len(self.pending) >= ROWS_A_BATCH:
            self.flush()

    def _previous(self, url: str, sha256: str) -> tuple[str, str] | None:
        """Return the last whole copy of ``url`` with that payload: one not recorded yet, or stored."""
        for copy, _, _ in reversed(self.pending):
            if copy.url == url and copy.payload_sha256 == sha256 and not (copy.revisit or copy.truncated):
                return copy.record_id, copy.recorded_at
        return store.last_copy(self.db, url, sha256)

    def flush(self) -> None:
        """Record where the copies written so far lie."""
        if self.pending:
            store.save_copies(self.db, self.pending, run_id=self.run_id)
            self.pending.clear()

    def close(self) -> None:
        self.flush()
        if self.writer is not None:
            try:
                self.writer.close()
            except OSError as ex:
                self.failed = (
                    self.failed or f"{self.folder}: the copies file could not be closed ({ex.strerror or ex})"
                )
