"""Facts about OpenNumismat collection files (schema versions 1–10) and how to open them safely.

Everything here comes from reference/notes/opennumismat.md (sections cited inline); the reader in
`opennumismat.py` only combines these facts.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

from services.errors import InvalidInput
from services.states import ItemStatus

SUPPORTED_VERSIONS = range(1, 11)
"""`settings.Version` values this reader understands (§8; schema 11 is unreleased)."""

APP_TYPE = "OpenNumismat"
EMPTY_PASSWORD_MD5 = hashlib.md5(b"").hexdigest()  # d41d8cd98f00b204e9800998ecf8427e (§1)

STATUSES: tuple[str, ...] = tuple(status.value for status in ItemStatus if status != ItemStatus.UNKNOWN)
"""OpenNumismat's status keys in its own definition order (§5.1): ItemStatus is that vocabulary."""

UNKNOWN_STATUS = ItemStatus.UNKNOWN.value
"""Empty or unrecognised `status` cells (the app tolerates them, §5.1)."""

PHOTO_COLUMNS: tuple[str, ...] = (
    "obverseimg", "reverseimg", "edgeimg", "signatureimg", "varietyimg",
    "photo1", "photo2", "photo3", "photo4", "photo5", "photo6",
)  # fmt: skip
"""Coin columns that reference full-size images (§3, §6)."""

PREVIEW_COLUMN = "image"
"""The list preview (obverse+reverse strip): `images.id` since v3, an inline BLOB in v1/v2 (§6)."""

IMAGE_COLUMNS: tuple[str, ...] = (PREVIEW_COLUMN, *PHOTO_COLUMNS)

V1_RENAMES: dict[str, str] = {"material": "metal", "shape": "form", "thickness": "thick", "weight": "mass"}
"""Current column → its schema-1 name (§8)."""

SQLITE_MAGIC = b"SQLite format 3\x00"


class OpenNumismatError(InvalidInput):
    """A collection file we cannot import; `message` is one line a user can act on."""

    code = "OPENNUMISMAT_INVALID"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(" ".join(str(message).split()), code=code)


def photo_table(version: int) -> str:
    """Table holding full-size images: `images` in schema 2, `photos` since 3 (§6)."""
    return "images" if version <= 2 else "photos"


def preview_table(version: int) -> str | None:
    """Table holding previews referenced by `coins.image`; none before schema 3 (inline BLOB)."""
    return None if version <= 2 else "images"


def sniff_image_mime(data: bytes | bytearray | memoryview) -> str:
    """MIME type from magic bytes; OpenNumismat mixes JPEG, WebP and PNG in one file (§6)."""
    head = bytes(data[:16])
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "image/avif"
    if head.startswith(b"BM"):
        return "image/bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    return "application/octet-stream"


def check_sqlite_header(path: Path) -> None:
    """Reject files that are missing, empty, not SQLite, or shorter than their header says (truncated).

    Done before SQLite sees the file: SQLite happily "opens" an empty file as an empty database and only
    fails on a truncated one when a query touches a missing page.
    """
    try:
        stat = path.stat()
    except OSError:
        raise OpenNumismatError(f"File not found: {path.name}", code="OPENNUMISMAT_NOT_FOUND") from None
    if not path.is_file():
        raise OpenNumismatError(f"{path.name} is not a file", code="OPENNUMISMAT_NOT_FOUND")
    if stat.st_size == 0:
        raise OpenNumismatError(f"{path.name} is empty (0 bytes)", code="OPENNUMISMAT_EMPTY")
    try:
        with path.open("rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise OpenNumismatError(
            f"Cannot read {path.name}: {exc.strerror or exc}", code="OPENNUMISMAT_UNREADABLE"
        ) from None
    if not header.startswith(SQLITE_MAGIC):
        if SQLITE_MAGIC.startswith(header):
            raise OpenNumismatError(
                f"{path.name} is truncated (only {stat.st_size} bytes)", code="OPENNUMISMAT_TRUNCATED"
            )
        raise OpenNumismatError(
            f"{path.name} is not an OpenNumismat collection (not a SQLite database file)",
            code="OPENNUMISMAT_NOT_SQLITE",
        )
    if len(header) < 100:
        raise OpenNumismatError(
            f"{path.name} is truncated (only {stat.st_size} bytes)", code="OPENNUMISMAT_TRUNCATED"
        )
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise OpenNumismatError(
            f"{path.name} is damaged (invalid SQLite page size)", code="OPENNUMISMAT_CORRUPT"
        )
    page_count = int.from_bytes(header[28:32], "big")
    header_count_valid = page_count > 0 and header[92:96] == header[24:28]
    if header_count_valid and stat.st_size < page_count * page_size:
        raise OpenNumismatError(
            f"{path.name} is truncated ({stat.st_size} of {page_count * page_size} bytes)",
            code="OPENNUMISMAT_TRUNCATED",
        )
    if stat.st_size < page_size or (not header_count_valid and stat.st_size % page_size):
        raise OpenNumismatError(f"{path.name} is truncated", code="OPENNUMISMAT_TRUNCATED")


def has_sidecar_journal(path: Path) -> bool:
    """True when a `-wal` or `-journal` file sits next to the database (app open or crashed mid-write)."""
    return any(os.path.exists(f"{path}{suffix}") for suffix in ("-wal", "-journal"))


def connect_read_only(path: Path, *, immutable: bool | None = None) -> sqlite3.Connection:
    """Open `path` strictly read-only (`mode=ro`; SQLite never writes to the file or creates a journal).

    `immutable=1` additionally turns off locking and journal checks. That is only safe when nobody can be
    writing the file, so by default (`immutable=None`) it is used when we cannot write the file ourselves
    and no journal/WAL file sits next to it; pass True for a private copy (e.g. an uploaded temp file),
    False to always take SQLite's shared lock (consistent reads even while OpenNumismat is saving).
    """
    if immutable is None:
        immutable = not has_sidecar_journal(path) and not os.access(path, os.W_OK)
    uri = path.resolve().as_uri() + "?mode=ro" + ("&immutable=1" if immutable else "")
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=2.0, check_same_thread=False)
    except sqlite3.Error as exc:
        raise OpenNumismatError(
            f"Cannot open {path.name} read-only: {exc}", code="OPENNUMISMAT_UNREADABLE"
        ) from None
    connection.execute("PRAGMA query_only = ON")
    return connection


def database_error(path: Path, exc: sqlite3.Error) -> OpenNumismatError:
    """Translate a SQLite failure during reading into a one-line user message."""
    message = str(exc).strip() or exc.__class__.__name__
    lowered = message.lower()
    if "not a database" in lowered or "file is encrypted" in lowered:
        return OpenNumismatError(
            f"{path.name} is not an OpenNumismat collection (not a readable SQLite database)",
            code="OPENNUMISMAT_NOT_SQLITE",
        )
    if any(word in lowered for word in ("locked", "busy", "readonly", "read-only", "unable to open")):
        return OpenNumismatError(
            f"{path.name} is in use or was not closed cleanly; close OpenNumismat and try again",
            code="OPENNUMISMAT_LOCKED",
        )
    return OpenNumismatError(f"{path.name} is damaged ({message})", code="OPENNUMISMAT_CORRUPT")
