"""How archiver's tables look in Datasette: links that open safely, readable timestamps.

Registered as a Datasette plugin through the package's entry point, so it is active
whenever archiver is installed.
"""

from __future__ import annotations

import re
from typing import Any

from datasette import hookimpl
from markupsafe import Markup, escape

__all__ = ["render_cell"]

_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})Z$")


@hookimpl
def render_cell(value: Any, column: str, table: str | None, database: str, datasette: Any) -> Markup | None:
    """Return the HTML of a cell: URLs as links that pass no referrer or ranking, UTC times readable."""
    if not isinstance(value, str):
        return None
    if value.startswith(("http://", "https://")) and not any(c.isspace() for c in value):
        # Strangers' URLs: no ranking credit, no access to this page, no referrer.
        url = escape(value)
        return Markup(f'<a href="{url}" rel="nofollow noopener noreferrer ugc" target="_blank">{url}</a>')
    match = _TIMESTAMP.match(value)
    if match and column.endswith("_at"):
        return Markup(f'<time datetime="{escape(value)}">{match.group(1)} {match.group(2)} UTC</time>')
    return None
