"""Pokémon sets and cards in the shared catalogue: upserts from pokemontcg.io-shaped JSON and the offline
snapshot that ships with the app (so search works with no network)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.card_printings import in_usual_order
from services.states import CatalogSyncStatus
from services.store.chunks import in_chunks
from services.store.models import Item, PokemonCard, PokemonSet, table_of, utcnow
from services.store.models_cards import CatalogSyncState
from services.text import natural_sort_key

SNAPSHOT_PATH = Path(__file__).resolve().parent / "data" / "pokemon_snapshot.json.gz"
SNAPSHOT_TTL = timedelta(days=3650)  # the snapshot is a fallback; a live sync replaces it
SOURCE = "pokemontcg"
CATALOG_KEY = "catalog"
_PREFETCH = 500


def numeric_value(number: str) -> int | None:
    return int(number) if number.isdigit() else None


def bump_revision(session: Session) -> None:
    """Record that the catalogue changed, so every process's search index rebuilds on its next query.

    One atomic upsert (`revision + 1`), safe when a CLI sync and the app write at the same time.
    """
    now = utcnow()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(CatalogSyncState).values(
        source=SOURCE, key=CATALOG_KEY, status=CatalogSyncStatus.COMPLETE, next_page=1, revision=1,
        fetched_at=now, updated_at=now,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["source", "key"],
        set_={"revision": CatalogSyncState.revision + 1, "fetched_at": now, "updated_at": now},
    )
    session.execute(statement)


# Built once, and run on the session's connection (no ORM result machinery): every search asks, and constructing
# the statement cost more than running it.
_REVISION = select(CatalogSyncState.revision, CatalogSyncState.fetched_at).where(
    CatalogSyncState.source == SOURCE, CatalogSyncState.key == CATALOG_KEY
)


def catalogue_revision(session: Session) -> tuple[int, Any]:
    """(revision, changed at) of the catalogue: a cheap primary-key read that search indexes compare."""
    row = session.connection().execute(_REVISION).first()
    return (row[0], row[1]) if row else (0, None)


def _existing(session: Session, model: type[Any], ids: list[str]) -> dict[str, Any]:
    """Rows already stored, fetched in chunks (one query per 500 ids instead of one per row)."""
    found: dict[str, Any] = {}
    for chunk in in_chunks(ids, _PREFETCH):
        found.update((row.id, row) for row in session.scalars(select(model).where(model.id.in_(chunk))))
    return found


def _release_date(value: str | None) -> date | None:
    return datetime.strptime(value, "%Y/%m/%d").date() if value else None


def upsert_sets(session: Session, sets: Iterable[dict[str, Any]], *, expires_at: datetime | None) -> int:
    sets = list(sets)
    known = _existing(session, PokemonSet, [data["id"] for data in sets])
    count = 0
    for data in sets:
        row = known.get(data["id"]) or PokemonSet(id=data["id"])
        row.name = data["name"]
        row.series = data.get("series")
        row.printed_total = data.get("printedTotal")
        row.total = data.get("total")
        row.ptcgo_code = data.get("ptcgoCode")
        row.release_date = _release_date(data.get("releaseDate"))
        row.symbol_url = (data.get("images") or {}).get("symbol")
        row.logo_url = (data.get("images") or {}).get("logo")
        row.fetched_at = utcnow()
        row.expires_at = expires_at
        session.add(row)
        count += 1
    session.flush()
    if count:
        bump_revision(session)
    return count


def upsert_cards(
    session: Session, set_id: str, cards: Iterable[dict[str, Any]], *, expires_at: datetime | None
) -> int:
    """Insert or update a page of cards by Core executemany statements (a full sync writes 20,000 cards: the
    ORM's per-object work would cost more than the API's rate limit leaves). A card TCGplayer stops listing
    keeps the printings it had."""
    rows: dict[str, dict[str, Any]] = {}  # by id: a page listing a card twice writes it once, as last given
    now = utcnow()
    for data in cards:
        number = str(data["number"])
        images = data.get("images") or {}
        row = {
            "card_id": data["id"], "set_id": (data.get("set") or {}).get("id", set_id), "name": data["name"],
            "number": number, "number_sort": natural_sort_key(number), "number_value": numeric_value(number),
            "supertype": data.get("supertype"), "subtypes": data.get("subtypes"), "types": data.get("types"),
            "rarity": data.get("rarity"), "artist": data.get("artist"), "image_small": images.get("small"),
            "image_large": images.get("large"), "fetched_at": now, "expires_at": expires_at,
        }  # fmt: skip
        listed = (data.get("tcgplayer") or {}).get("prices")
        if isinstance(listed, dict) and listed:
            row["printings"] = list(in_usual_order(str(printing)[:40] for printing in listed))
        rows[data["id"]] = row
    if not rows:
        return 0
    known: set[str] = set()
    for chunk in in_chunks(list(rows), _PREFETCH):
        known.update(session.scalars(select(PokemonCard.id).where(PokemonCard.id.in_(chunk))))
    table = table_of(PokemonCard)
    new = [{"id": key, "printings": None} | row for key, row in rows.items() if key not in known]
    if new:
        session.execute(table.insert(), [{k: v for k, v in row.items() if k != "card_id"} for row in new])
    for with_printings in (True, False):  # executemany needs the same columns in every row
        changed = [row for key, row in rows.items() if key in known and ("printings" in row) == with_printings]
        if changed:
            columns: dict[str, Any] = {name: bindparam(name) for name in changed[0] if name != "card_id"}
            session.execute(table.update().where(table.c.id == bindparam("card_id")).values(columns), changed)
    bump_revision(session)
    return len(rows)


def load_offline_snapshot(session: Session, path: Path = SNAPSHOT_PATH) -> tuple[int, int]:
    """Add the shipped snapshot's sets and cards that the catalogue lacks (never overwrites a live sync).

    Returns (sets, cards) added.
    """
    snapshot = json.loads(gzip.decompress(path.read_bytes()))
    known_sets = set(session.scalars(select(PokemonSet.id)))
    known_cards = set(session.scalars(select(PokemonCard.id)))
    expires = utcnow() + SNAPSHOT_TTL
    sets = upsert_sets(
        session, (s for s in snapshot["sets"] if s["id"] not in known_sets), expires_at=expires
    )
    cards = sum(
        upsert_cards(
            session, set_id, (c for c in set_cards if c["id"] not in known_cards), expires_at=expires
        )
        for set_id, set_cards in snapshot["cards"].items()
    )
    return sets, cards


@lru_cache(maxsize=4)
def snapshot_date(path: Path = SNAPSHOT_PATH) -> date | None:
    """How current the shipped snapshot is: the release date of its newest set (the file holds no other date)."""
    snapshot = json.loads(gzip.decompress(path.read_bytes()))
    return max((day for s in snapshot["sets"] if (day := _release_date(s.get("releaseDate")))), default=None)


def ensure_offline_catalogue(session: Session) -> bool:
    """Load the shipped snapshot when the catalogue has no card at all (first start, no network).

    Returns whether it loaded anything. Cheap when cards exist: one indexed `LIMIT 1` read.
    """
    if session.scalar(select(PokemonCard.id).limit(1)) is not None:
        return False
    sets, cards = load_offline_snapshot(session)
    return bool(sets or cards)


def list_sets(session: Session) -> list[PokemonSet]:
    return list(session.scalars(select(PokemonSet).order_by(PokemonSet.release_date.desc(), PokemonSet.id)))


def missing_cards(session: Session, owner_id: int, set_id: str) -> list[PokemonCard]:
    """The cards of a set the owner holds no copy of, in card-number order."""
    owned = select(Item.pokemontcg_card_id).where(Item.owner_id == owner_id, Item.kind == "card")
    return list(
        session.scalars(
            select(PokemonCard)
            .where(PokemonCard.set_id == set_id, PokemonCard.id.not_in(owned))
            .order_by(PokemonCard.number_sort)
        )
    )
