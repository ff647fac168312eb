"""What a local source was, byte for byte: its SHA-256 and size, to show which export posts came from."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["source_digest"]


def source_digest(path: str | os.PathLike[str]) -> tuple[str, int] | None:
    """Return the SHA-256 (hex) and size in bytes of a file, or None when it cannot be read.

    A folder (an archive export unpacked) is digested as the list of its files, each
    ``SHA-256  size  relative/path`` a line in path order, the lines' own SHA-256 standing
    for the folder and its size the sum of theirs: the same files give the same digest
    wherever the folder lies.  Hidden files and symbolic links are left out, as reading
    leaves them out.
    """
    path = Path(path)
    try:
        if not path.is_dir():
            with open(path, "rb") as file:
                digest = hashlib.file_digest(file, "sha256")
            return digest.hexdigest(), path.stat().st_size
        lines = []
        total = 0
        for member in sorted(_files(path)):
            with open(member, "rb") as file:
                digest = hashlib.file_digest(file, "sha256")
            size = member.stat().st_size
            total += size
            lines.append(f"{digest.hexdigest()}  {size}  {member.relative_to(path).as_posix()}\n")
        return hashlib.sha256("".join(lines).encode("utf-8", "surrogateescape")).hexdigest(), total
    except OSError:
        return None


def _files(folder: Path) -> list[Path]:
    found = []
    for child in folder.iterdir():
        if child.name.startswith(".") or child.is_symlink():
            continue
        if child.is_dir():
            found += _files(child)
        elif child.is_file():
            found.append(child)
    return found
