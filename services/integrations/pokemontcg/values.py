"""Card-side reads around valuation: entries without a price, a card's latest prices.

Why: an entry with no price is never valued at 0 (README "How values are estimated"); the user must be
able to see *which* entries those are to give them an estimate or pick the printing that has a price.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.card_prices import TCGPLAYER_METRICS
from services.pricing import priced_items
from services.store.models import Item, LatestPrice, PokemonCard, PokemonSet


@dataclass(frozen=True)
class UnpricedEntry:
    """A held entry no price source covers (counted apart, never valued at 0)."""

    item_id: int
    kind: str
    title: str
    quantity: int
    grade: str | None
    printing: str | None
    card_id: str | None
    set_id: str | None
    set_name: str | None


def unpriced_entries(session: Session, owner_id: int, kind: str | None = None) -> list[UnpricedEntry]:
    """The owner's held entries that no price source covers, by kind, set and title (one statement)."""
    priced = priced_items(owner_id, kinds=(kind,) if kind else None, lean=True)
    query = (
        select(
            Item.id, Item.kind, Item.title, Item.quantity, Item.grade, Item.printing, Item.pokemontcg_card_id,
            PokemonSet.id, PokemonSet.name,
        )
        .join(priced, priced.c.id == Item.id)
        .outerjoin(PokemonCard, PokemonCard.id == Item.pokemontcg_card_id)
        .outerjoin(PokemonSet, PokemonSet.id == PokemonCard.set_id)
        .where(priced.c.unit_price.is_(None))
        .order_by(Item.kind, PokemonSet.name, PokemonCard.number_sort, Item.title, Item.id)
    )  # fmt: skip
    return [UnpricedEntry(*row) for row in session.execute(query)]


def card_prices(session: Session, card_id: str) -> list[dict[str, Any]]:
    """The latest price of every (source, variant, metric) stored for a card."""
    metric_rank = {metric: i for i, metric in enumerate(TCGPLAYER_METRICS)}
    rows = session.scalars(
        select(LatestPrice).where(LatestPrice.ref_kind == "pokemontcg", LatestPrice.ref_id == card_id)
    )
    prices = [
        {
            "source": row.source,
            "printing": row.variant or "(card)",
            "metric": row.metric,
            "value": float(row.value),
            "currency": row.currency,
            "date": row.observed_at.date().isoformat(),
        }
        for row in rows
    ]
    return sorted(prices, key=lambda p: (p["source"], p["printing"], metric_rank.get(p["metric"], 99), p["metric"]))
