"""Directories and files Vitrine creates for its data are private to the account running it.

Why: ``data/`` holds the SQLite database (password hashes, encrypted tokens, the whole collection) and
``secret.key``; on a shared machine the usual umask (022) would make them readable by every local user.
Only what Vitrine creates is touched: an existing directory a user chose keeps its mode.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def ensure_private_dir(path: Path) -> Path:
    """PATH as a directory; created (with any missing parents) readable by its owner only."""
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another process made it in between
            path.mkdir(mode=PRIVATE_DIR_MODE)
    return path


def ensure_private_file(path: Path) -> Path:
    """PATH as a file; an empty one created readable by its owner only when missing (an empty file is a
    valid new SQLite database, which keeps that mode, and SQLite gives its -wal and -shm files the same)."""
    ensure_private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    return path
