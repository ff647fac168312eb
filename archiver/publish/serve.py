"""Serving an archive with Datasette: the live file, or a public snapshot with a public's limits."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..store import Database
from .metadata import write_metadata
from .snapshot import snapshot

__all__ = ["PRIVATE_SETTINGS", "PUBLIC_SETTINGS", "Serving", "datasette_app", "prepare_serving", "serve"]

# Each table's facets are chosen in metadata.yml.  Datasette's own suggestions try a facet
# on every column of a table each time its page is shown (up to 50 ms a column): at
# 100,000 links that made the links page take a second instead of a tenth.
_NO_SUGGESTIONS = {"suggest_facets": "off"}
# What a public instance allows: no database download, short queries, few rows.
PUBLIC_SETTINGS = {
    "sql_time_limit_ms": "1000",
    "max_returned_rows": "1000",
    "allow_download": "off",
    "max_csv_mb": "50",
    "facet_time_limit_ms": "200",
    **_NO_SUGGESTIONS,
}
# The archive's owner may run longer queries (a facet over every link).
PRIVATE_SETTINGS = {"sql_time_limit_ms": "3500", **_NO_SUGGESTIONS}


@dataclass(frozen=True, slots=True)
class Serving:
    """What Datasette is started with: a database file, its metadata, and settings."""

    database: Path
    metadata: Path
    immutable: bool = False
    settings: dict[str, str] = field(default_factory=dict)

    def datasette_args(self, *, host: str, port: int) -> list[str]:
        """Return the arguments of ``datasette serve`` for this database."""
        args = ["serve", *(["--immutable"] if self.immutable else []), str(self.database)]
        args += [arg for name, value in self.settings.items() for arg in ("--setting", name, value)]
        return [*args, "--metadata", str(self.metadata), "--host", host, "--port", str(port)]


def prepare_serving(
    db: Database, db_path: str | Path, metadata: dict[str, Any], *, public: bool, scratch: Path
) -> Serving:
    """Return how to serve the archive, writing the public snapshot and the metadata it needs.

    A public snapshot (``public/`` beside the archive) is a copy that no run writes to,
    so it may be opened immutable: counts are cached and no locking is needed.  The
    live file is never served that way; its metadata is written to ``scratch``.
    """
    if public:
        copy = Path(db_path).parent / "public" / Path(db_path).name
        snapshot(db, copy, public=True)
        written = write_metadata(metadata, copy.parent / "metadata.json", public=True)
        return Serving(copy, written, immutable=True, settings=PUBLIC_SETTINGS)
    written = write_metadata(metadata, scratch / "metadata.json")
    return Serving(Path(db_path), written, settings=PRIVATE_SETTINGS)


def datasette_app(serving: Serving) -> Any:
    """Return the Datasette application ``serve`` runs, to be asked in-process (``.client``).

    The same database, metadata, settings and plugins as ``datasette serve`` is given;
    call its ``invoke_startup()`` before the first request.
    """
    from datasette.app import SETTINGS, Datasette  # Datasette's start-up only for serving

    defaults = {setting.name: setting.default for setting in SETTINGS}
    settings: dict[str, Any] = {}
    for name, value in serving.settings.items():
        default = defaults[name]
        if isinstance(default, bool):
            settings[name] = value.lower() in ("on", "true", "1")
        else:
            settings[name] = type(default)(value)
    database = str(serving.database)
    return Datasette(
        [] if serving.immutable else [database],
        immutables=[database] if serving.immutable else [],
        metadata=json.loads(serving.metadata.read_text(encoding="utf-8")),
        settings=settings,
    )


def serve(serving: Serving, *, host: str, port: int) -> None:
    """Run Datasette on ``serving`` until it is stopped."""
    from datasette.cli import cli as datasette_cli  # Datasette's start-up only for serve

    datasette_cli.main(args=serving.datasette_args(host=host, port=port), prog_name="datasette")
