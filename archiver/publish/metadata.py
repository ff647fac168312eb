"""What Datasette serves an archive with: archiver's metadata, fitted to the database served.

The metadata (descriptions, facets, canned queries, Atom feeds, dashboards) is the
top-level ``metadata.yml``, shipped inside the package, so ``archiver serve`` finds it
from any working directory.  It describes a database named ``archive``; Datasette names
a database after its file, so for ``mine.db`` every reference is renamed to ``mine``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..models import ArchiverError

__all__ = [
    "DESCRIBED_NAME",
    "canned_queries",
    "database_name",
    "for_database",
    "load_metadata",
    "write_metadata",
]

# The database the shipped metadata describes.
DESCRIBED_NAME = "archive"


def load_metadata(path: str | Path | None = None) -> dict[str, Any]:
    """Return the metadata in ``path`` (YAML or JSON), or archiver's own when None."""
    import yaml  # here, not at the top: only the commands that publish pay for it

    try:
        if path is None:
            text = resources.files("archiver").joinpath("metadata.yml").read_text(encoding="utf-8")
            where = "archiver's metadata.yml"
        else:
            text = Path(path).read_text(encoding="utf-8")
            where = str(path)
        loaded = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as ex:
        raise ArchiverError(f"cannot read {path or 'metadata.yml'}: {ex}") from ex
    if not isinstance(loaded, dict):
        raise ArchiverError(f"cannot read {where}: not a mapping of settings")
    return loaded


def database_name(db_path: str | Path) -> str:
    """Return the name Datasette serves a database file under: its file name without suffix."""
    return Path(db_path).stem


def for_database(metadata: dict[str, Any], name: str) -> dict[str, Any]:
    """Return ``metadata`` describing the database ``name``, not ``archive``.

    Metadata that already names ``name`` (a user's own ``--metadata``) is returned as is.
    """
    databases = metadata.get("databases") or {}
    if name == DESCRIBED_NAME or name in databases or DESCRIBED_NAME not in databases:
        return metadata
    fitted = copy.deepcopy(metadata)
    fitted["databases"] = {
        (name if key == DESCRIBED_NAME else key): value for key, value in databases.items()
    }
    for chart in _dashboard_charts(fitted):
        if chart.get("db") == DESCRIBED_NAME:
            chart["db"] = name
    renamed: dict[str, Any] = _renamed_paths(fitted, f"/{DESCRIBED_NAME}/", f"/{quote(name)}/")
    return renamed


def _dashboard_charts(metadata: dict[str, Any]) -> Iterator[dict[str, Any]]:
    dashboards = (metadata.get("plugins") or {}).get("datasette-dashboards") or {}
    for dashboard in dashboards.values():
        if isinstance(dashboard, dict):
            yield from (c for c in (dashboard.get("charts") or {}).values() if isinstance(c, dict))


def _renamed_paths(value: Any, old: str, new: str) -> Any:
    """Return ``value`` with ``old`` replaced in its text (titles naming a feed's URL), not in SQL."""
    if isinstance(value, dict):
        return {k: v if k in ("sql", "query") else _renamed_paths(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed_paths(v, old, new) for v in value]
    if isinstance(value, str):
        return value.replace(old, new)
    return value


def canned_queries(metadata: dict[str, Any], name: str) -> dict[str, str]:
    """Return the SQL of each canned query the metadata gives the database ``name``."""
    database = (metadata.get("databases") or {}).get(name) or {}
    queries = database.get("queries") or {}
    return {
        query_name: query["sql"]
        for query_name, query in queries.items()
        if isinstance(query, dict) and isinstance(query.get("sql"), str)
    }


def write_metadata(metadata: dict[str, Any], path: Path, *, public: bool = False) -> Path:
    """Write ``metadata`` as JSON for ``datasette --metadata``; ``public`` sets archiver's public mode."""
    if public:
        metadata = copy.deepcopy(metadata)
        plugins = metadata.setdefault("plugins", {})
        plugins.setdefault("archiver", {})["public"] = True
        # The copies of pages stay on the machine that made them: not even their table is shown.
        for database in metadata.get("databases", {}).values():
            if isinstance(database, dict):
                database.setdefault("tables", {}).setdefault("copies", {})["hidden"] = True
    path.write_text(json.dumps(metadata, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
