"""The file an import reads, named on the command line: one clear line when it is missing or is a folder."""

from __future__ import annotations

from pathlib import Path

from services.errors import InvalidInput


def input_file(name: str | Path) -> Path:
    """``name`` as a path to an existing regular file, else InvalidInput (FILE_NOT_FOUND)."""
    path = Path(name)
    if path.is_dir():
        raise InvalidInput(f"{name} is a folder: name the export file inside it.", code="FILE_NOT_FOUND")
    if not path.is_file():
        raise InvalidInput(f"{name}: no such file.", code="FILE_NOT_FOUND")
    return path
