"""One page of the Collection table as typed rows: kind-specific columns (coins: country, year, face value, mint,
grade; cards: set, number, printing, condition; records: artist, label, format, media, sleeve), humanised
statuses, money with its currency, a picture for every row. Also the whole filtered view for downloads."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services import labels
from services.collection import (
    SYNC_SERVICE_FOR_KIND,
    ItemFilter,
    list_items,
    page_of_items,
    sync_statuses,
    sync_targets,
)
from services.images import ImageCache, item_pictures
from services.item_fields import detail_text, record_facts
from services.pricing import unit_prices
from services.states import ItemKind, SyncStatus
from services.store.models import DiscogsRelease, Item, PokemonCard, PokemonSet

EXPORT_LIMIT = 100_000


@dataclass(frozen=True)
class CollectionRow:
    """What the Collection table shows of one item; every text is ready to read ('' where unknown)."""

    id: int
    picture: str
    kind: str
    title: str
    quantity: int
    status: str
    sync: str
    unit_value: str
    value: str
    paid: str
    # coins
    country: str = ""
    year: str = ""
    face_value: str = ""
    mint: str = ""
    grade: str = ""
    # cards
    set: str = ""
    number: str = ""
    printing: str = ""
    condition: str = ""
    # records
    artist: str = ""
    label: str = ""
    format: str = ""
    media: str = ""
    sleeve: str = ""
    storage: str = ""
    tags: str = ""
    notes: str = ""
    added: str = ""
    version: int = 0


COMMON_COLUMNS = ("picture", "id", "title", "quantity", "status", "unit_value", "value", "paid")
KIND_COLUMNS = {
    ItemKind.COIN: ("country", "year", "face_value", "mint", "grade", "sync"),
    ItemKind.CARD: ("set", "number", "printing", "condition"),
    ItemKind.RECORD: ("artist", "label", "format", "media", "sleeve", "year", "sync"),
}
ALL_KINDS_COLUMNS = ("kind", "country", "year", "grade", "sync")
TRAILING_COLUMNS = ("storage", "tags", "notes", "added")
HEADERS = {
    "picture": "Picture", "id": "#", "title": "Title", "quantity": "Qty", "status": "Status", "sync": "Sync",
    "unit_value": "Unit value", "value": "Value", "paid": "Paid (per copy)", "kind": "Kind", "country": "Country",
    "year": "Year", "face_value": "Face value", "mint": "Mint", "grade": "Grade", "set": "Set", "number": "No.",
    "printing": "Printing", "condition": "Condition", "artist": "Artist", "label": "Label", "format": "Format",
    "media": "Media", "sleeve": "Sleeve", "storage": "Storage", "tags": "Tags", "notes": "Notes", "added": "Added",
}  # fmt: skip


def columns_for(kind: str | None) -> tuple[str, ...]:
    """The table's columns, in order, for one kind (or every kind)."""
    middle = KIND_COLUMNS.get(kind, ALL_KINDS_COLUMNS) if kind else ALL_KINDS_COLUMNS  # type: ignore[call-overload]
    return (*COMMON_COLUMNS[:3], *middle, *COMMON_COLUMNS[3:], *TRAILING_COLUMNS)


def _face_value(item: Item) -> str:
    value, unit = detail_text(item, "value"), detail_text(item, "unit")
    if value:
        return f"{labels.number(Decimal(value)) if _is_number(value) else value} {unit}".strip()
    return item.series or ""


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def _cards(session: Session, items: list[Item]) -> dict[str, tuple[str, str]]:
    ids = {item.pokemontcg_card_id for item in items if item.pokemontcg_card_id}
    if not ids:
        return {}
    rows = session.execute(
        select(PokemonCard.id, PokemonSet.name, PokemonCard.number)
        .join(PokemonSet, PokemonSet.id == PokemonCard.set_id)
        .where(PokemonCard.id.in_(ids))
    )
    return {card_id: (set_name, number) for card_id, set_name, number in rows}


def _releases(session: Session, items: list[Item]) -> dict[int, DiscogsRelease]:
    ids = {item.discogs_release_id for item in items if item.discogs_release_id}
    if not ids:
        return {}
    found = session.scalars(select(DiscogsRelease).where(DiscogsRelease.id.in_(ids)))
    return {release.id: release for release in found}


def build_rows(
    session: Session, owner_id: int, items: list[Item], *, currency: str, images: ImageCache | None
) -> list[CollectionRow]:
    """Rows for the given owner-scoped items (pictures only with an image cache: downloads skip them)."""
    ids = [item.id for item in items]
    statuses = sync_statuses(session, ids)
    prices = unit_prices(session, owner_id, ids, currency, kinds={item.kind for item in items})
    cards = _cards(session, items)
    releases = _releases(session, items)
    numbers = {item.id: cards[item.pokemontcg_card_id][1] for item in items if item.pokemontcg_card_id in cards}
    pictures = item_pictures(session, images, items, numbers) if images is not None else {}
    rows = []
    for item in items:
        price = prices.get(item.id)
        service = SYNC_SERVICE_FOR_KIND.get(item.kind)
        status = statuses.get(item.id, {}).get(service, SyncStatus.NOT_SYNCED) if service else None
        sync = labels.sync_label(status, service) if service and status else ""
        if service and (targets := sync_targets(item.kind, statuses.get(item.id))) is not None:
            sync = labels.targets_label(targets, service)  # records: collection, wantlist and marketplace
        extra: dict[str, str] = {}
        if item.kind == ItemKind.COIN:
            extra = {"face_value": _face_value(item), "mint": detail_text(item, "mintmark", "mint"),
                     "grade": item.grade or ""}  # fmt: skip
        elif item.kind == ItemKind.CARD:
            set_name, number = cards.get(item.pokemontcg_card_id or "", ("", ""))
            extra = {"set": set_name, "number": number, "printing": labels.printing_label(item.printing),
                     "condition": item.grade or "", "grade": item.grade or ""}  # fmt: skip  # all kinds: Grade
        elif item.kind == ItemKind.RECORD:
            extra = {**record_facts(item, releases.get(item.discogs_release_id or 0)), "grade": item.grade or ""}
        rows.append(
            CollectionRow(
                id=item.id, picture=pictures.get(item.id, ""), kind=labels.kind_label(item.kind), title=item.title,
                quantity=item.quantity, status=labels.status_label(item.status), sync=sync,
                unit_value=labels.money(price, currency),
                value=labels.money(price * item.quantity if price is not None else None, currency),
                paid=labels.money(item.acquired_price, item.acquired_currency or currency, missing=""),
                country=item.country or "", year=str(item.year) if item.year else "",
                storage=item.storage_location or "", tags=", ".join(item.tags or []), notes=item.notes or "",
                added=labels.day(item.created_at), version=item.version, **extra,
            )
        )  # fmt: skip
    return rows


@dataclass(frozen=True)
class CollectionPage:
    rows: list[CollectionRow]
    total: int  # items matching the filters
    page: int  # 1-based, clamped to the last page
    pages: int


def collection_page(
    session: Session,
    owner_id: int,
    filters: ItemFilter,
    *,
    page: int,
    page_size: int,
    currency: str,
    images: ImageCache | None = None,
) -> CollectionPage:
    """One page of the Collection table and the count of matching items: the page and its count from one
    statement, then a bounded handful (sync states, prices, cards, releases, pictures) for its rows, whatever
    the collection's size. A page past the end shows the last one."""
    page = max(1, page)
    items, total = page_of_items(session, owner_id, filters, limit=page_size, offset=(page - 1) * page_size)
    pages = max(1, math.ceil(total / page_size))
    if not items and page > pages:
        page = pages
        items, total = page_of_items(session, owner_id, filters, limit=page_size, offset=(page - 1) * page_size)
    return CollectionPage(build_rows(session, owner_id, items, currency=currency, images=images), total, page, pages)


def view_rows(session: Session, owner_id: int, filters: ItemFilter, *, currency: str) -> list[CollectionRow]:
    """Every row of the filtered view (for a download), in chunks, without pictures."""
    rows: list[CollectionRow] = []
    for offset in range(0, EXPORT_LIMIT, 1000):
        chunk = list_items(session, owner_id, filters, limit=1000, offset=offset)
        rows.extend(build_rows(session, owner_id, chunk, currency=currency, images=None))
        if len(chunk) < 1000:
            break
    return rows


def _plain(row: CollectionRow, columns: Iterable[str]) -> dict[str, Any]:
    record = asdict(row)
    return {HEADERS[name]: record[name] for name in columns if name != "picture"}


def rows_csv(rows: list[CollectionRow], kind: str | None) -> str:
    columns = columns_for(kind)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[HEADERS[name] for name in columns if name != "picture"])
    writer.writeheader()
    for row in rows:
        writer.writerow(_plain(row, columns))
    return out.getvalue()


def rows_json(rows: list[CollectionRow], kind: str | None) -> str:
    names = [name for name in columns_for(kind) if name != "picture"]
    return json.dumps([{name: asdict(row)[name] for name in names} for row in rows], ensure_ascii=False, indent=1)
