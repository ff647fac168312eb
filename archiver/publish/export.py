"""Writing a table or view as CSV, JSON or JSON Lines, without a server."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import Any, TextIO

from ..models import ExportFormat

__all__ = ["EXPORT_FORMATS", "write_rows"]

EXPORT_FORMATS = tuple(str(fmt) for fmt in ExportFormat)

# A spreadsheet runs a cell that starts with one of these as a formula; a post's text
# or a page title is written by strangers (OWASP's "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write_rows(rows: Iterable[dict[str, Any]], columns: list[str], fmt: str, out: TextIO) -> int:
    """Write rows to ``out`` in ``fmt``, streaming; return how many were written."""
    count = 0
    if fmt == ExportFormat.CSV:
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _inert(value) for key, value in row.items()})
            count += 1
    elif fmt == ExportFormat.JSONL:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "json":
        out.write("[")
        for row in rows:
            out.write(("\n  " if count == 0 else ",\n  ") + json.dumps(row, ensure_ascii=False))
            count += 1
        out.write("\n]\n" if count else "]\n")
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    return count


def _inert(value: Any) -> Any:
    """Return a CSV cell that no spreadsheet runs: text starting like a formula gets a ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
