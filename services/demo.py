"""The demo collection: real coins, records and cards from the reference data, with illustrative prices,
so a newcomer sees tables and charts within a minute, with no account and no network."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.collection import add_item
from services.integrations.pokemontcg.catalog import load_offline_snapshot
from services.pricing import Observation, record_observations
from services.store.models import DiscogsRelease, Item, PokemonCard, utcnow

DEMO_PATH = Path(__file__).resolve().parent / "data" / "demo_collection.json"
DEMO_SOURCE = "demo"
HISTORY_MONTHS = 12


@dataclass(frozen=True)
class DemoResult:
    created: int
    unchanged: int

    def to_json(self) -> dict[str, int]:
        return {"created": self.created, "unchanged": self.unchanged}


@dataclass(frozen=True)
class DemoPrice:
    """Today's illustrative price of a demo entry; ref_kind "item" prices the item itself."""

    ref_kind: str
    ref_id: str
    variant: str
    metric: str
    currency: str
    value: float


def _history(price: DemoPrice, ref_id: str) -> list[Observation]:
    """Monthly observations ending at today's value, drifting up ~1.5% a month, so charts have a past."""
    today = utcnow()
    return [
        Observation(
            price.ref_kind, ref_id, DEMO_SOURCE, price.variant, price.metric, price.currency,
            Decimal(str(round(price.value / (1.015**months_ago), 2))),
            today - timedelta(days=30 * months_ago),
        )
        for months_ago in range(HISTORY_MONTHS, -1, -1)
    ]  # fmt: skip


def load_demo(session: Session, owner_id: int, path: Path = DEMO_PATH) -> DemoResult:
    """Add the demo items the owner does not have yet (re-running it changes nothing)."""
    demo = json.loads(path.read_text())
    load_offline_snapshot(session)
    existing = set(
        session.scalars(
            select(Item.origin_row_id).where(Item.owner_id == owner_id, Item.origin_source == DEMO_SOURCE)
        )
    )
    created = unchanged = 0
    observations: list[Observation] = []
    for key, fields, prices in _demo_entries(session, demo):
        if key in existing:
            unchanged += 1
            continue
        item = add_item(session, owner_id, origin_source=DEMO_SOURCE, origin_row_id=key, **fields)
        for price in prices:
            ref_id = str(item.id) if price.ref_kind == "item" else price.ref_id
            observations.extend(_history(price, ref_id))
        created += 1
    record_observations(session, observations)
    return DemoResult(created, unchanged)


def _demo_entries(
    session: Session, demo: dict[str, Any]
) -> list[tuple[str, dict[str, Any], list[DemoPrice]]]:
    """(origin key, item fields, prices) for every demo entry."""
    entries: list[tuple[str, dict[str, Any], list[DemoPrice]]] = []
    for coin in demo["coins"]:
        fields = {
            "kind": "coin", "title": coin["title"], "country": coin["country"], "year": coin["year"],
            "series": coin["series"], "grade": coin["grade"], "grade_code": coin["numista_grade"],
            "acquired_price": Decimal(str(coin["acquired_price"])), "acquired_currency": "EUR",
            "acquired_date": date.fromisoformat(coin["acquired_date"]),
            "details": {"material": coin["material"], "weight": coin["weight"], "diameter": coin["diameter"]},
        }  # fmt: skip
        price = DemoPrice("item", "", coin["numista_grade"], "estimate", "EUR", coin["estimate"])
        entries.append((f"coin:{coin['source_row_id']}", fields, [price]))
    for record in demo["records"]:
        if session.get(DiscogsRelease, record["release_id"]) is None:  # never over what Discogs itself said
            session.add(
                DiscogsRelease(
                    id=record["release_id"], title=record["title"], artist=record["artist"], year=record["year"],
                    formats=record["formats"], country=record["country"], fetched_at=utcnow(),
                )
            )  # fmt: skip
        fields = {
            "kind": "record", "title": f"{record['artist']} – {record['title']}", "year": record["year"],
            "country": record["country"], "grade": record["media_condition"],
            "grade_code": record["media_condition"], "discogs_release_id": record["release_id"],
        }  # fmt: skip
        price = DemoPrice("item", "", record["media_condition"], "estimate", "USD", record["estimate"])
        entries.append((f"record:{record['release_id']}", fields, [price]))
    for card in demo["cards"]:
        catalogue_card = session.get(PokemonCard, card["card_id"])
        if catalogue_card is None:
            continue
        title = f"{catalogue_card.name} ({catalogue_card.set.name} {catalogue_card.number})"
        fields = {
            "kind": "card", "title": title,
            "quantity": card["quantity"], "grade": card["condition"], "grade_code": card["condition"],
            "printing": card["printing"], "language": "en", "pokemontcg_card_id": card["card_id"],
            "acquired_price": Decimal(str(card["acquired_price"])), "acquired_currency": "USD",
        }  # fmt: skip
        prices = [
            DemoPrice("pokemontcg", card["card_id"], card["printing"], "market", "USD", card["estimate"])
        ]
        entries.append((f"card:{card['card_id']}", fields, prices if card["priced"] else []))
    return entries
