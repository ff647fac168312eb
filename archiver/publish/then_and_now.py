"""What a link's page showed then and shows now, read from your own copies of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from .. import resolve

__all__ = ["EXCERPT_CHARACTERS", "shown_by"]

EXCERPT_CHARACTERS = 400
# Of a copy, what is read to say what it showed.
READ_BYTES = 1024 * 1024


def shown_by(folder: Path, copy: dict[str, Any]) -> dict[str, str] | None:
    """Return the title and the start of the text a kept answer showed, or None when it cannot be read."""
    path = folder / copy["warc_file"]
    if not path.exists():
        path = path.with_name(path.name + ".open")
    try:
        with open(path, "rb") as file:
            file.seek(copy["offset"])
            record = next(iter(ArchiveIterator(file)), None)
            if record is None or record.rec_type != "response":
                return None
            body = record.content_stream().read(READ_BYTES)
    except (OSError, ValueError, ArchiveLoadFailed):
        return None
    try:
        seen = resolve.fingerprint(body.decode("utf-8", errors="replace"))
    except Exception:  # noqa: BLE001 - a stranger's page: what it showed is simply not said
        return None
    return {
        "title": seen.title or seen.heading or "",
        "excerpt": seen.excerpt[:EXCERPT_CHARACTERS],
        "recorded_at": str(copy["recorded_at"]),
    }
