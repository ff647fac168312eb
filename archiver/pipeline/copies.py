"""Keeping the copies of a run's answers: WARC records written, their places recorded in ``copies``."""

from __future__ import annotations

from .. import preserve, store
from ..models import Exchange

__all__ = ["CopyKeeper"]


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

    def keep(self, exchange: Exchange, link: str | None = None, *, source: str | None = None) -> None:
        """Write one answer's copy and record it, for the link whose chain asked or the source fetched."""
        if self.failed is not None:
            return
        try:
            if self.writer is None:
                self.writer = preserve.CopyWriter(self.folder, rotate_at=self.settings.rotate_at)
            written = self.writer.write(
                exchange, previous=lambda url, sha: store.last_copy(self.db, url, sha)
            )
        except OSError as ex:
            self.failed = (
                f"{self.folder}: copies cannot be written ({ex.strerror or ex}); no more copies this run"
            )
            return
        store.save_copy(self.db, written, link=link, source=source, run_id=self.run_id)

    def close(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except OSError as ex:
                self.failed = (
                    self.failed or f"{self.folder}: the copies file could not be closed ({ex.strerror or ex})"
                )
