"""OpenNumismat file → the user's coins: a preview of what would change, then one transaction.

Re-importing the same or an updated file updates the items it created (matched by the file's row id)
instead of duplicating them. A field is only overwritten when the *file* changed it since the last
import, so a user's own edits to other fields survive: the one re-import rule of every importer
(services/importers/merge.py).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from services.grades import GradeMapper, grade_report
from services.importers.merge import SNAPSHOT_KEY, merge_keeping_edits
from services.importers.opennumismat import read_opennumismat
from services.importers.opennumismat_models import OpenNumismatCoin, OpenNumismatCollection
from services.importers.row_limit import DEFAULT_MAX_ROWS
from services.pricing import Observation, record_observations
from services.states import ItemStatus
from services.store.models import Item, ItemImage, table_of
from services.validation import OutOfRange, check_money, check_quantity, check_texts, check_year

SOURCE_PREFIX = "opennumismat:"
IMAGE_BATCH_BYTES = 16 * 1024 * 1024  # images are inserted a batch at a time, never all held at once
DETAIL_FIELDS = (
    "category", "region", "period", "ruler", "type", "subject", "value", "unit", "issue_date", "mint", "mintmark",
    "mintage", "grader", "quality", "material", "weight", "diameter", "thickness", "axis", "real_weight",
    "real_diameter", "catalognum1", "catalognum2", "catalognum3", "catalognum4", "url", "features", "seller",
    "saleprice", "totalsaleprice", "saledate", "saleplace", "buyer", "price1", "price2", "price3", "price4", "seat",
    "barcode", "numista_source", "totalpayprice",
)  # fmt: skip
ITEM_FIELDS = (
    "title", "quantity", "grade", "grade_code", "status", "country", "year", "series", "acquired_price",
    "acquired_date", "acquired_place", "storage_location", "notes", "tags", "numista_type_id", "numista_issue_id",
)  # fmt: skip


_MAPPED_COLUMNS = frozenset({"id", *ITEM_FIELDS, *DETAIL_FIELDS, "title", "grade", "status", "note", "storage",
                              "payprice", "paydate", "payplace", "tags"})  # fmt: skip


@dataclass
class ImportReport:
    """The import JSON document (DESIGN.md): what was (or, in a dry run, would be) done."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    by_status: dict[str, int] = field(default_factory=dict)
    by_numista_grade: dict[str, int] = field(default_factory=dict)
    schema_version: int | None = None
    source: str = ""
    changes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "created": self.created, "updated": self.updated, "unchanged": self.unchanged, "skipped": self.skipped,
            "errors": self.errors, "byStatus": self.by_status, "byNumistaGrade": self.by_numista_grade,
        }  # fmt: skip


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def source_name(path: str | Path) -> str:
    """The origin of items from this file: stable across re-imports of the file under the same name."""
    return f"{SOURCE_PREFIX}{Path(path).stem}"[:40]


def _mapped(coin: OpenNumismatCoin, grades: GradeMapper, currency: str) -> dict[str, Any]:
    """Our item's fields for one coin row (typed), plus every other column of the row in `details`."""
    _check_ranges(coin)
    title = coin.title or " ".join(str(p) for p in (coin.value, coin.unit, coin.country, coin.year) if p) or "Coin"
    details = {name: _jsonable(getattr(coin, name)) for name in DETAIL_FIELDS}
    details["raw"] = {
        key: _jsonable(value)
        for key, value in coin.raw.items()
        if key not in _MAPPED_COLUMNS and value is not None and value != "" and not isinstance(value, bytes)
    }
    return check_texts({
        "title": title[:400],
        "quantity": check_quantity(coin.quantity) if coin.quantity and coin.quantity > 0 else 1,
        "grade": coin.grade_raw,
        "grade_code": grades(coin.grade_raw),
        "status": coin.status if coin.status != ItemStatus.UNKNOWN else ItemStatus.OWNED,
        "country": coin.country,
        "year": check_year(coin.year),
        "series": coin.series,
        "acquired_price": check_money(coin.payprice, name="paid price"),
        "acquired_currency": currency if coin.payprice is not None else None,
        "acquired_date": coin.paydate,
        "acquired_place": coin.payplace,
        "storage_location": coin.storage,
        "notes": coin.note,
        "tags": list(coin.tags) or None,
        "numista_type_id": coin.numista_type_id,
        "numista_issue_id": coin.numista_issue_id,
        "details": {key: value for key, value in details.items() if value not in (None, "", {}, [])},
    })


def _check_ranges(coin: OpenNumismatCoin) -> None:
    """The catalogue prices go to the price history (NUMERIC(14,2)): they must fit it too."""
    for grade, value in coin.catalogue_values.items():
        check_money(value, name=f"catalogue price ({grade})")


def _snapshot(mapped: dict[str, Any]) -> dict[str, Any]:
    """What this import said, per field; the unmapped columns (`raw`) as one digest to keep rows small."""
    flat = {name: _jsonable(mapped[name]) for name in ITEM_FIELDS}
    for key, value in mapped["details"].items():
        if key == "raw":
            value = hashlib.blake2b(json.dumps(value, sort_keys=True).encode(), digest_size=8).hexdigest()
        flat[f"details.{key}"] = value
    return flat


def import_opennumismat(
    session: Session,
    owner_id: int,
    path: str | Path,
    *,
    currency: str = "EUR",
    source: str | None = None,
    dry_run: bool = False,
    grade_overrides: dict[str, str | None] | None = None,
    with_images: bool = True,
    max_rows: int = DEFAULT_MAX_ROWS,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Preview (dry_run) or apply the import of one file into the owner's collection (``progress`` hears
    (coins read, coins in the file) as the rows are mapped).

    The caller owns the transaction: commit it to keep the import, roll back to drop every row of it.
    Raises OpenNumismatError (one-line reason) for a file that is not an importable collection, and
    InvalidInput for one with more than `max_rows` coins (services.importers.row_limit).
    """
    collection = read_opennumismat(path, max_rows=max_rows)
    origin = source or source_name(path)
    grades = GradeMapper(grade_overrides)
    report = ImportReport(
        schema_version=collection.schema_version,
        source=origin,
        by_status=dict(Counter(c.status for c in collection.coins)),
        by_numista_grade=grade_report((c.grade_raw for c in collection.coins), grade_overrides),
    )
    existing = {
        item.origin_row_id: item
        for item in session.scalars(select(Item).where(Item.owner_id == owner_id, Item.origin_source == origin))
    }
    new_rows: list[dict[str, Any]] = []
    new_coins: list[OpenNumismatCoin] = []
    repriced: list[tuple[int, OpenNumismatCoin, str | None]] = []
    for index, coin in enumerate(collection.coins):
        if progress is not None:
            progress(index, len(collection.coins))
        try:
            mapped = _mapped(coin, grades, currency)
        except (ValueError, TypeError, ArithmeticError, OutOfRange) as error:
            report.errors.append({"row": coin.source_row_id, "reason": str(error).splitlines()[0][:200]})
            report.skipped += 1
            continue
        snapshot = _snapshot(mapped)
        item = existing.get(str(coin.source_row_id))
        if item is None:
            report.created += 1
            details = mapped.pop("details") | {SNAPSHOT_KEY: snapshot}
            new_rows.append(mapped | {"details": details, "owner_id": owner_id, "kind": "coin", "version": 1,
                                      "origin_source": origin, "origin_row_id": str(coin.source_row_id)})  # fmt: skip
            new_coins.append(coin)
            continue
        changed = merge_keeping_edits(item, mapped, snapshot, dry_run=dry_run)
        if changed:
            report.updated += 1
            report.changes.append({"row": coin.source_row_id, "item": item.id, "fields": changed})
            if any(name.startswith("details.price") or name == "grade_code" for name in changed):
                repriced.append((item.id, coin, mapped["grade_code"]))
        else:
            report.unchanged += 1
    if dry_run:
        return report
    if new_rows:
        session.execute(insert(table_of(Item)), new_rows)  # Core executemany: batched, not one ORM round per row
        known = [item.id for item in existing.values()]
        new_ids = dict(
            session.execute(
                select(Item.origin_row_id, Item.id).where(
                    Item.owner_id == owner_id, Item.origin_source == origin, Item.id.not_in(known)
                )
            ).all()
        )
        ids = [new_ids[row["origin_row_id"]] for row in new_rows]
        repriced.extend((item_id, coin, row["grade_code"]) for item_id, coin, row in zip(ids, new_coins, new_rows,
                                                                                       strict=True))  # fmt: skip
        if with_images:
            _store_images(session, collection, list(zip(ids, new_coins, strict=True)))
    record_observations(
        session,
        [
            Observation("item", str(item_id), "opennumismat", grade, "catalogue", currency, value)
            for item_id, coin, _grade_code in repriced
            for grade, value in coin.catalogue_values.items()
        ],
    )
    session.flush()
    return report


def _store_images(session: Session, collection: OpenNumismatCollection, created: list[tuple[int, Any]]) -> None:
    """Copy the new coins' images, loading and inserting them in batches of about IMAGE_BATCH_BYTES so a
    collection of thousands of photos never sits in memory whole."""
    rows: list[dict[str, Any]] = []
    held = 0
    with collection.images() as loader:
        for item_id, coin in created:
            refs = ([("thumbnail", coin.thumbnail)] if coin.thumbnail else []) + [("photo", r) for r in coin.photos]
            for position, (role, ref) in enumerate(refs):
                image = loader.load(ref)
                if image is None:
                    continue
                rows.append({"item_id": item_id, "position": position, "role": role, "mime": image.mime,
                             "data": image.data})  # fmt: skip
                held += len(image.data)
                if held >= IMAGE_BATCH_BYTES:
                    session.execute(insert(table_of(ItemImage)), rows)
                    rows, held = [], 0
    if rows:
        session.execute(insert(table_of(ItemImage)), rows)
