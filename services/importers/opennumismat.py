"""Read-only reader of OpenNumismat collection files (.db, schema versions 1–10).

Pure and fast: one sequential scan of `coins` (image BLOBs are never touched), columns read by name so every
schema version works, and nothing is ever written — the file is opened with ``mode=ro`` (plus
``immutable=1`` when nobody can be writing it, see `connect_read_only`). Images stay in the file until a
caller asks for them through `OpenNumismatCollection.images()`.

Validation follows the app's own open sequence (notes/opennumismat.md §1): SQLite file → tables `coins` and
`settings` → `settings.Type` is OpenNumismat (absent in schema 1/2, where the app defaults it) →
`settings.Version` ≤ 10 → password gate. The password is only a UI gate in OpenNumismat (an unsalted MD5,
nothing is encrypted); we still honour it: a protected collection needs its password.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from itertools import compress
from operator import itemgetter
from pathlib import Path
from types import TracebackType

from services.importers import opennumismat_values as cv
from services.importers.opennumismat_links import NUMISYNC_MARKER, find_numista_ids
from services.importers.opennumismat_models import (
    CoinImage,
    FrozenMap,
    ImageRef,
    OpenNumismatCoin,
    OpenNumismatCollection,
    OpenNumismatTag,
    RawRow,
    builder_classes,
)
from services.importers.opennumismat_schema import (
    APP_TYPE,
    EMPTY_PASSWORD_MD5,
    IMAGE_COLUMNS,
    PREVIEW_COLUMN,
    STATUSES,
    SUPPORTED_VERSIONS,
    UNKNOWN_STATUS,
    V1_RENAMES,
    OpenNumismatError,
    check_sqlite_header,
    connect_read_only,
    database_error,
    photo_table,
    preview_table,
    sniff_image_mime,
)
from services.importers.row_limit import DEFAULT_MAX_ROWS, check_row_count

# OpenNumismatCoin field ← coins column, converter: every field read straight from one cell.
_Converter = Callable[[object], object]
_PLAN: tuple[tuple[str, str, _Converter], ...] = (
    ("title", "title", cv.text),
    ("category", "category", cv.text),
    ("country", "country", cv.text),
    ("region", "region", cv.text),
    ("period", "period", cv.text),
    ("ruler", "ruler", cv.text),
    ("series", "series", cv.text),
    ("type", "type", cv.text),
    ("subject", "subjectshort", cv.text),
    ("value", "value", cv.decimal),
    ("unit", "unit", cv.text),
    ("year", "year", cv.year),
    ("issue_date", "issuedate", cv.iso_date),
    ("mint", "mint", cv.text),
    ("mintmark", "mintmark", cv.text),
    ("mintage", "mintage", cv.integer),
    ("quantity", "quantity", cv.quantity),
    ("grade_raw", "grade", cv.text),
    ("grader", "grader", cv.text),
    ("barcode", "barcode", cv.text),
    ("quality", "quality", cv.text),
    ("material", "material", cv.text),
    ("weight", "weight", cv.real),
    ("diameter", "diameter", cv.real),
    ("thickness", "thickness", cv.real),
    ("axis", "axis", cv.integer),
    ("real_weight", "real_weight", cv.real),
    ("real_diameter", "real_diameter", cv.real),
    ("catalognum1", "catalognum1", cv.text),
    ("catalognum2", "catalognum2", cv.text),
    ("catalognum3", "catalognum3", cv.text),
    ("catalognum4", "catalognum4", cv.text),
    ("url", "url", cv.text),
    ("features", "features", cv.long_text),
    ("payprice", "payprice", cv.decimal),
    ("totalpayprice", "totalpayprice", cv.decimal),
    ("paydate", "paydate", cv.iso_date),
    ("payplace", "payplace", cv.text),
    ("seller", "saller", cv.text),
    ("saleprice", "saleprice", cv.decimal),
    ("totalsaleprice", "totalsaleprice", cv.decimal),
    ("saledate", "saledate", cv.iso_date),
    ("saleplace", "saleplace", cv.text),
    ("buyer", "buyer", cv.text),
    ("price1", "price1", cv.decimal),
    ("price2", "price2", cv.decimal),
    ("price3", "price3", cv.decimal),
    ("price4", "price4", cv.decimal),
    ("storage", "storage", cv.text),
    ("seat", "seat", cv.text),
    ("created_at", "createdat", cv.timestamp),
    ("updated_at", "updatedat", cv.timestamp),
    ("sort_id", "sort_id", cv.integer),
)


_KIND: dict[_Converter, str] = {
    cv.text: "text",
    cv.integer: "int",
    cv.year: "int",
    cv.quantity: "int",
    cv.real: "real",
    cv.decimal: "dec",
    cv.timestamp: "ts",
}
_GROUPS = ("text", "int", "real", "dec", "other", "ts")
_TAIL_FIELDS = (
    "note", "tags", "numista_type_id", "numista_issue_id", "numista_source", "thumbnail", "photos", "raw",
)  # fmt: skip


def _check_plan() -> None:
    """Fail at import, not mid-read, if `_PLAN` and OpenNumismatCoin's fields drift apart."""
    planned = [name for name, _, _ in _PLAN] + ["source_row_id", "status", "status_raw", *_TAIL_FIELDS]
    if sorted(planned) != sorted(OpenNumismatCoin.__dataclass_fields__):  # pragma: no cover
        raise RuntimeError("opennumismat _PLAN is out of step with OpenNumismatCoin fields")
    kinds = [_KIND.get(convert, "other") for _, _, convert in _PLAN]
    sizes = {kind: kinds.count(kind) for kind in _GROUPS}
    timestamps = [name for name, _, convert in _PLAN if convert is cv.timestamp]
    # itemgetter returns a bare value (not a tuple) for one index; the loop also unpacks exactly 2 timestamps.
    if min(sizes.values()) < 2 or timestamps != ["created_at", "updated_at"]:  # pragma: no cover
        raise RuntimeError("opennumismat _PLAN groups need at least two fields each")


_check_plan()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tables(connection: sqlite3.Connection) -> set[str]:
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {str(name).lower() for (name,) in rows}


def _columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [str(row[1]) for row in connection.execute(f"PRAGMA table_info({_quote(table)})")]


def _read_settings(connection: sqlite3.Connection) -> dict[str, object]:
    columns = {name.lower() for name in _columns(connection, "settings")}
    if not {"title", "value"} <= columns:
        return {}
    return {str(title): value for title, value in connection.execute("SELECT title, value FROM settings")}


def _validate(path: Path, tables: set[str], settings: Mapping[str, object], password: str | None) -> int:
    """Apply the app's open checks; return the schema version."""
    name = path.name
    if not {"coins", "settings"} <= tables:
        raise OpenNumismatError(
            f"{name} is a SQLite file but not an OpenNumismat collection (no coins/settings tables)",
            code="OPENNUMISMAT_NOT_OPENNUMISMAT",
        )
    app_type = settings.get("Type")
    if app_type is not None and str(app_type).strip() != APP_TYPE:
        hint = " (an 'Export to mobile' copy; import the desktop .db)" if str(app_type) == "Mobile" else ""
        raise OpenNumismatError(
            f"{name} is not an OpenNumismat collection (type {str(app_type)[:40]!r}){hint}",
            code="OPENNUMISMAT_NOT_OPENNUMISMAT",
        )
    raw_version = settings.get("Version")
    if raw_version is None:
        raise OpenNumismatError(
            f"{name} is not an OpenNumismat collection (no schema version in its settings)",
            code="OPENNUMISMAT_NOT_OPENNUMISMAT",
        )
    try:
        version = int(str(raw_version).strip())
    except ValueError:
        raise OpenNumismatError(
            f"{name} has an unreadable OpenNumismat schema version {str(raw_version)[:20]!r}",
            code="OPENNUMISMAT_CORRUPT",
        ) from None
    if version > SUPPORTED_VERSIONS[-1]:
        raise OpenNumismatError(
            f"{name} was saved by a newer OpenNumismat (schema {version}); this importer reads schemas "
            f"{SUPPORTED_VERSIONS[0]}–{SUPPORTED_VERSIONS[-1]}",
            code="OPENNUMISMAT_UNSUPPORTED_VERSION",
        )
    if version < SUPPORTED_VERSIONS[0]:
        raise OpenNumismatError(
            f"{name} has an invalid OpenNumismat schema version {version}", code="OPENNUMISMAT_CORRUPT"
        )
    stored = settings.get("Password")
    if _password_protected(stored):
        if password is None:
            raise OpenNumismatError(
                f"{name} is password-protected in OpenNumismat; enter its password to import it",
                code="OPENNUMISMAT_PASSWORD_REQUIRED",
            )
        digest = hashlib.md5(password.encode("utf-8")).hexdigest()
        if digest != str(stored).strip().lower():
            raise OpenNumismatError(f"Wrong password for {name}", code="OPENNUMISMAT_WRONG_PASSWORD")
    return version


def _password_protected(stored: object) -> bool:
    return stored is not None and str(stored).strip().lower() not in ("", EMPTY_PASSWORD_MD5)


def _status_lookup(settings: Mapping[str, object]) -> dict[str, str]:
    """Casefolded key or user title → status key; titles are user-editable (`<key>_status_title`)."""
    lookup: dict[str, str] = {}
    for key in STATUSES:
        title = settings.get(f"{key}_status_title")
        if isinstance(title, str) and title.strip():
            lookup.setdefault(title.strip().casefold(), key)
    for key in STATUSES:
        lookup[key] = key  # keys win over titles
    return lookup


def _status_titles(settings: Mapping[str, object]) -> dict[str, str]:
    titles = {}
    for key in STATUSES:
        title = settings.get(f"{key}_status_title")
        titles[key] = title.strip() if isinstance(title, str) and title.strip() else key.capitalize()
    return titles


def _read_description(connection: sqlite3.Connection, tables: set[str]) -> tuple[str | None, ...]:
    if "description" not in tables:
        return None, None, None
    columns = {name.lower() for name in _columns(connection, "description")}
    wanted = [name for name in ("title", "description", "author") if name in columns]
    if not wanted:
        return None, None, None
    order = " ORDER BY id" if "id" in columns else ""
    row = connection.execute(f"SELECT {', '.join(wanted)} FROM description{order} LIMIT 1").fetchone()
    values = dict(zip(wanted, row, strict=True)) if row else {}
    return (
        cv.text(values.get("title")),
        cv.long_text(values.get("description")),
        cv.text(values.get("author")),
    )


def _read_tags(
    connection: sqlite3.Connection, tables: set[str]
) -> tuple[tuple[OpenNumismatTag, ...], dict[int, tuple[str, ...]]]:
    """All tags (with root→leaf paths) and coin id → tag names, for schema ≥ 9 files (§2)."""
    if "tags" not in tables:
        return (), {}
    columns = {name.lower() for name in _columns(connection, "tags")}
    if not {"id", "tag"} <= columns:
        return (), {}
    select = ", ".join(
        name if name in columns else "NULL" for name in ("id", "tag", "parent_id", "position", "description")
    )
    rows = connection.execute(f"SELECT {select} FROM tags").fetchall()
    by_id = {tag_id: row for row in rows if (tag_id := cv.integer(row[0])) is not None}

    def path_of(tag_id: int) -> tuple[str, ...]:
        names: list[str] = []
        seen: set[int] = set()
        current: int | None = tag_id
        while current is not None and current in by_id and current not in seen:
            seen.add(current)
            row = by_id[current]
            names.append(cv.text(row[1]) or "")
            current = cv.integer(row[2])
        return tuple(reversed(names))

    tags = tuple(
        sorted(
            (
                OpenNumismatTag(
                    id=tag_id,
                    name=cv.text(row[1]) or "",
                    parent_id=cv.integer(row[2]),
                    position=cv.integer(row[3]),
                    description=cv.long_text(row[4]),
                    path=path_of(tag_id),
                )
                for tag_id, row in by_id.items()
            ),
            key=lambda tag: (tag.path, tag.position if tag.position is not None else 0, tag.id),
        )
    )
    if "coins_tags" not in tables:
        return tags, {}
    order = {tag.id: index for index, tag in enumerate(tags)}
    names = {tag.id: tag.name for tag in tags}
    links: dict[int, list[int]] = {}
    for coin_id, tag_id in connection.execute("SELECT coin_id, tag_id FROM coins_tags"):
        coin, tag = cv.integer(coin_id), cv.integer(tag_id)
        if coin is not None and tag in names:
            bucket = links.setdefault(coin, [])
            if tag not in bucket:
                bucket.append(tag)
    coin_tags = {
        coin: tuple(names[tag] for tag in sorted(tag_ids, key=order.__getitem__))
        for coin, tag_ids in links.items()
    }
    return tags, coin_tags


def _field_titles(connection: sqlite3.Connection, tables: set[str], columns: list[str]) -> dict[str, str]:
    """Column → display title from `fields` (row id = the column's position in `coins`, §3.1)."""
    if "fields" not in tables:
        return {}
    field_columns = {name.lower() for name in _columns(connection, "fields")}
    if not {"id", "title"} <= field_columns:
        return {}
    titles: dict[str, str] = {}
    for field_id, title in connection.execute("SELECT id, title FROM fields"):
        position = cv.integer(field_id)
        label = cv.text(title)
        if position is not None and 0 <= position < len(columns) and label:
            titles[columns[position]] = label
    return titles


def _image_sources(version: int, tables: set[str]) -> dict[str, str | None]:
    """Image column → table its integer ids point into (None: ids are not resolvable)."""
    photos = photo_table(version)
    previews = preview_table(version)
    sources: dict[str, str | None] = {}
    for column in IMAGE_COLUMNS:
        table = previews if column == PREVIEW_COLUMN else photos
        sources[column] = table if table is not None and table in tables else None
    return sources


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def read_opennumismat(
    path: str | os.PathLike[str],
    *,
    password: str | None = None,
    immutable: bool | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> OpenNumismatCollection:
    """Read an OpenNumismat collection file without modifying it.

    `immutable`: see `connect_read_only` (None = automatic; True for a private copy such as an upload).
    `max_rows`: the import row limit (services.importers.row_limit), checked by counting the coins before
    any is read, so a refused file costs one COUNT.

    Raises OpenNumismatError (one-line `message`, machine `code`) for a missing, empty, non-SQLite,
    truncated or damaged file, a SQLite file that is not an OpenNumismat collection, a schema newer than 10,
    and a password-protected collection opened without (or with a wrong) `password`.
    """
    source = Path(path)
    check_sqlite_header(source)
    stat = source.stat()
    connection = connect_read_only(source, immutable=immutable)
    try:
        try:
            return _read(connection, source, stat, password, max_rows)
        except sqlite3.OperationalError as exc:
            if "decode" not in str(exc).lower():
                raise
            # Invalid UTF-8 in some text cell: re-read decoding leniently instead of failing the import.
            connection.text_factory = _lenient_text
            return _read(connection, source, stat, password, max_rows)
    except sqlite3.Error as exc:
        raise database_error(source, exc) from None
    finally:
        connection.close()


def _read(
    connection: sqlite3.Connection, source: Path, stat: os.stat_result, password: str | None, max_rows: int
) -> OpenNumismatCollection:
    tables = _tables(connection)
    settings = _read_settings(connection) if "settings" in tables else {}
    version = _validate(source, tables, settings, password)
    columns = _columns(connection, "coins")
    lower = {name.lower(): name for name in columns}
    if "id" not in lower:
        raise OpenNumismatError(
            f"{source.name} is not an OpenNumismat collection (coins table has no id column)",
            code="OPENNUMISMAT_NOT_OPENNUMISMAT",
        )
    check_row_count(connection.execute("SELECT COUNT(*) FROM coins").fetchone()[0], max_rows)

    # SELECT every column by name; image columns yield their id (NULL for inline BLOBs, so BLOB bytes are
    # never fetched) and one extra bitmask column says which of them hold an inline BLOB.
    image_columns = [column for column in IMAGE_COLUMNS if column in lower]
    expressions = []
    for name in columns:
        quoted = _quote(name)
        if name.lower() in image_columns:
            expressions.append(f"CASE WHEN typeof({quoted}) = 'blob' THEN NULL ELSE {quoted} END")
        else:
            expressions.append(quoted)
    null_index = len(columns)
    mask_index = null_index + 1
    expressions.append("NULL")
    mask_terms = [
        f"((typeof({_quote(lower[column])}) = 'blob') << {bit})" for bit, column in enumerate(image_columns)
    ]
    expressions.append(" | ".join(mask_terms) if mask_terms else "0")
    index = {name: position for position, name in enumerate(columns)}

    def position(column: str) -> int:
        found = lower.get(column)
        if found is None and column in V1_RENAMES:  # schema 1 names (metal, form, thick, mass)
            found = lower.get(V1_RENAMES[column])
        return index[found] if found is not None else null_index

    # Hot loop layout (50k rows: every per-cell function call counts). Cells are grouped by converter so
    # the common cases run inline: text is stripped in place, INTEGER/REAL cells of integer/real fields pass
    # through, REAL money becomes Decimal without a call, NULL and '' skip their converter (every converter
    # maps them to None). The coin is then built straight from the group lists, in group order.
    groups: dict[str, list[tuple[str, int, _Converter]]] = {kind: [] for kind in _GROUPS}
    for name, column, convert in _PLAN:
        kind = _KIND.get(convert, "other")
        groups[kind].append((name, position(column), convert))
    # The builder takes its arguments in this (group) order; see builder_classes for why that is allowed.
    build_order = [name for kind in _GROUPS for name, _, _ in groups[kind]]
    build_order += ["source_row_id", "status", "status_raw", *_TAIL_FIELDS]

    text_get, int_get, real_get, dec_get, other_get, ts_get = (
        itemgetter(*(index for _, index, _ in groups[kind])) for kind in _GROUPS
    )
    int_converters = tuple(convert for _, _, convert in groups["int"])
    real_converters = tuple(convert for _, _, convert in groups["real"])
    other_converters = tuple(convert for _, _, convert in groups["other"])
    text_names = [name for name, _, _ in groups["text"]]
    url_at, catalog4_at = text_names.index("url"), text_names.index("catalognum4")
    text = cv.text
    integer = cv.integer
    long_text = cv.long_text
    decimal = cv.decimal
    timestamp = cv.timestamp
    new_decimal = Decimal
    coin_twin, coin_class = builder_classes(OpenNumismatCoin, tuple(build_order))
    ref_twin, ref_class = builder_classes(ImageRef)

    id_index = index[lower["id"]]
    status_index = position("status")
    note_index = position("note")
    sources = _image_sources(version, tables)
    image_meta = [(bit, lower[column], column, sources[column]) for bit, column in enumerate(image_columns)]
    image_get = itemgetter(*(index[lower[column]] for column in image_columns), null_index, null_index)
    preview_present = bool(image_columns) and image_columns[0] == PREVIEW_COLUMN
    status_lookup = _status_lookup(settings)
    tags, coin_tags = _read_tags(connection, tables)
    title, description, author = _read_description(connection, tables)
    field_titles = _field_titles(connection, tables, columns)
    raw_index = dict(index)  # private to RawRow; shared by all rows

    coins: list[OpenNumismatCoin] = []
    counts: dict[str, int] = {}
    no_tags: tuple[str, ...] = ()
    query = f"SELECT {', '.join(expressions)} FROM coins ORDER BY {_quote(lower['id'])}"
    for row in connection.execute(query):
        coin_id = integer(row[id_index])
        if coin_id is None:
            continue  # a rowid alias is never NULL; text ids in a damaged file are skipped
        status_raw = row[status_index]
        status = (
            status_lookup.get(status_raw.strip().casefold(), UNKNOWN_STATUS)
            if status_raw.__class__ is str
            else UNKNOWN_STATUS
        )
        counts[status] = counts.get(status, 0) + 1
        texts = [
            (cell.strip() or None) if cell.__class__ is str else (None if cell is None else text(cell))
            for cell in text_get(row)
        ]
        ints = [
            cell if cell.__class__ is int else (None if cell is None or cell == "" else convert(cell))
            for convert, cell in zip(int_converters, int_get(row), strict=True)
        ]
        reals = [
            cell
            if cell.__class__ is float and cell - cell == 0.0
            else (None if cell is None or cell == "" else convert(cell))
            for convert, cell in zip(real_converters, real_get(row), strict=True)
        ]
        decimals = [
            new_decimal(repr(cell))
            if cell.__class__ is float and cell - cell == 0.0
            else (None if cell is None or cell == "" else decimal(cell))
            for cell in dec_get(row)
        ]
        others = [
            None if cell is None or cell == "" else convert(cell)
            for convert, cell in zip(other_converters, other_get(row), strict=True)
        ]
        created_cell, updated_cell = ts_get(row)
        created = timestamp(created_cell) if created_cell else None
        # Rows never edited carry updatedat == createdat: parse once.
        updated = (
            created if updated_cell == created_cell else timestamp(updated_cell) if updated_cell else None
        )

        url, catalog4, note_cell = texts[url_at], texts[catalog4_at], row[note_index]
        note = long_text(note_cell)
        type_id = issue_id = link_source = None
        if (
            (url is not None and "numista" in url.lower())
            or (catalog4 is not None and catalog4.isdigit())
            or (note is not None and NUMISYNC_MARKER in note)
        ):
            type_id, issue_id, link_source, note, _, _ = find_numista_ids(url, catalog4, note_cell)

        thumbnail = None
        photos: list[ImageRef] = []
        cells = image_get(row)
        mask = row[mask_index]
        # compress() skips NULL/''/0 cells in C; the usual 2–3 present ids are all we touch.
        for (bit, _, column, table), cell in compress(zip(image_meta, cells, strict=False), cells):
            if table is None:
                continue
            elif cell.__class__ is int:
                ref = ref_twin(column, table, cell, "image")
            else:
                ref_id = integer(cell)
                if ref_id is None:
                    continue
                ref = ref_twin(column, table, ref_id, "image")
            ref.__class__ = ref_class
            if bit == 0 and preview_present:
                thumbnail = ref
            else:
                photos.append(ref)
        if mask:
            # Inline BLOB cells were selected as NULL (bytes never fetched); add their refs here.
            for bit, actual, column, _ in image_meta:
                if mask >> bit & 1:
                    ref = ref_twin(column, "coins", coin_id, actual)
                    ref.__class__ = ref_class
                    if bit == 0 and preview_present:
                        thumbnail = ref
                    else:
                        photos.append(ref)

        coin = coin_twin(
            *texts,
            *ints,
            *reals,
            *decimals,
            *others,
            created,
            updated,
            coin_id,
            status,
            status_raw,
            note,
            coin_tags.get(coin_id, no_tags),
            type_id,
            issue_id,
            link_source,
            thumbnail,
            tuple(photos),
            RawRow(raw_index, row),
        )
        coin.__class__ = coin_class
        coins.append(coin)

    order = {status: position for position, status in enumerate((*STATUSES, UNKNOWN_STATUS))}
    return OpenNumismatCollection(
        path=source.resolve(),
        schema_version=version,
        title=title,
        description=description,
        author=author,
        coins=tuple(coins),
        counts_by_status=FrozenMap(dict(sorted(counts.items(), key=lambda item: order[item[0]]))),
        status_titles=FrozenMap(_status_titles(settings)),
        settings=FrozenMap(settings),
        tags=tags,
        columns=tuple(columns),
        field_titles=FrozenMap(field_titles),
        password_protected=_password_protected(settings.get("Password")),
        file_size=stat.st_size,
        file_mtime_ns=stat.st_mtime_ns,
    )


class OpenNumismatImages:
    """Loads image bytes of one collection on demand over a single read-only connection.

    Refuses to read if the file changed since it was imported: image references are row ids, so a file
    edited in between could hand back another coin's picture.
    """

    def __init__(self, collection: OpenNumismatCollection) -> None:
        self._collection = collection
        self._connection: sqlite3.Connection | None = None
        self._photo_columns: dict[str, set[str]] = {}

    def __enter__(self) -> OpenNumismatImages:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            path = self._collection.path
            try:
                stat = path.stat()
            except OSError:
                raise OpenNumismatError(
                    f"{path.name} is no longer available; import it again", code="OPENNUMISMAT_CHANGED"
                ) from None
            expected = (self._collection.file_size, self._collection.file_mtime_ns)
            if (stat.st_size, stat.st_mtime_ns) != expected:
                raise OpenNumismatError(
                    f"{path.name} changed since it was read; import it again to load its images",
                    code="OPENNUMISMAT_CHANGED",
                )
            self._connection = connect_read_only(path)
        return self._connection

    def _extras(self, connection: sqlite3.Connection, table: str) -> list[str]:
        if table not in self._photo_columns:
            self._photo_columns[table] = {name.lower() for name in _columns(connection, table)}
        present = self._photo_columns[table]
        return [name for name in ("title", "author", "license", "source") if name in present]

    def load(self, ref: ImageRef) -> CoinImage | None:
        """Bytes + MIME of `ref`, or None when the referenced row/BLOB does not exist."""
        connection = self._open()
        if ref.table not in ("photos", "images", "coins") or ref.column not in ("image", *IMAGE_COLUMNS):
            return None
        try:
            extras = [] if ref.table == "coins" else self._extras(connection, ref.table)
            select = ", ".join([_quote(ref.column), *extras])
            row = connection.execute(
                f"SELECT {select} FROM {_quote(ref.table)} WHERE id = ?", (ref.row_id,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise database_error(self._collection.path, exc) from None
        if row is None or not isinstance(row[0], bytes | bytearray) or not row[0]:
            return None
        data = bytes(row[0])
        meta = {name: cv.text(value) for name, value in zip(extras, row[1:], strict=True)}
        return CoinImage(
            ref=ref,
            mime=sniff_image_mime(data),
            data=data,
            title=meta.get("title"),
            author=meta.get("author"),
            license=meta.get("license"),
            source=meta.get("source"),
        )

    def load_many(self, refs: Iterable[ImageRef]) -> list[CoinImage]:
        """Load several images, skipping missing ones."""
        return [image for ref in refs if (image := self.load(ref)) is not None]
