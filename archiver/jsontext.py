"""Reading JSON that strangers wrote: any fault, nesting too deep included, is a ValueError."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["load_json", "decode_json_at"]

_DECODER = json.JSONDecoder()


def load_json(text: str | bytes) -> Any:
    """Return the value the JSON text holds; ValueError when it is not JSON or nests too deep.

    The standard library's decoder recurses once per level: 400 KB of ``[`` raises
    RecursionError, which would end whatever was reading a web archive's answer.
    """
    try:
        return json.loads(text)
    except RecursionError as ex:
        raise ValueError("JSON nested too deep to read") from ex


def decode_json_at(text: str, position: int) -> tuple[Any, int]:
    """Return the JSON value that starts at ``position`` and where it ends; ValueError as above."""
    try:
        return _DECODER.raw_decode(text, position)
    except RecursionError as ex:
        raise ValueError("JSON nested too deep to read") from ex
