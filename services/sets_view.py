"""The Sets page's data: a set's binder (every card in number order, owned or missing, with its picture) and
value per group (coins by country or series, records by artist or label), where a group with no price is
"unpriced", never 0."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from services.exchange_rates import current_rates
from services.images import ImageCache, cached_uri, placeholder
from services.pricing import priced_items
from services.states import NOT_HELD_STATUSES
from services.store.models import DiscogsRelease, Item, PokemonCard
from services.validation import cents


@dataclass(frozen=True)
class BinderSlot:
    card_id: str
    number: str
    name: str
    rarity: str
    copies: int  # held copies (0: missing)
    picture: str  # data URI: the cached image, else a drawn placeholder
    image_url: str | None

    @property
    def owned(self) -> bool:
        return self.copies > 0


def binder(session: Session, owner_id: int, set_id: str, images: ImageCache) -> list[BinderSlot]:
    """Every card of the set in collector number order, with the owner's held copies; no network call."""
    held = (
        select(Item.pokemontcg_card_id, func.sum(Item.quantity).label("copies"))
        .where(Item.owner_id == owner_id, Item.kind == "card", Item.status.not_in(NOT_HELD_STATUSES))
        .group_by(Item.pokemontcg_card_id)
        .subquery()
    )
    rows = session.execute(
        select(PokemonCard.id, PokemonCard.number, PokemonCard.name, PokemonCard.rarity, PokemonCard.image_small,
               func.coalesce(held.c.copies, 0))
        .outerjoin(held, held.c.pokemontcg_card_id == PokemonCard.id)
        .where(PokemonCard.set_id == set_id)
        .order_by(PokemonCard.number_sort)
    )  # fmt: skip
    return [
        BinderSlot(card_id, number, name, rarity or "", int(copies),
                   cached_uri(images, image) or placeholder(name, number, "card"), image)
        for card_id, number, name, rarity, image, copies in rows
    ]  # fmt: skip


@dataclass(frozen=True)
class GroupValue:
    name: str
    copies: int
    priced_copies: int
    value: Decimal | None  # None: nothing in the group has a price (never shown as 0)


GROUPS = {
    ("coin", "country"): Item.country, ("coin", "series"): Item.series, ("coin", "year"): Item.year,
    ("record", "artist"): DiscogsRelease.artist, ("record", "label"): Item.series,  # a record's series: its label
    ("record", "year"): Item.year,
}  # fmt: skip


def group_values(session: Session, owner_id: int, kind: str, group: str, currency: str) -> list[GroupValue]:
    """Held copies and value of one kind per group, most valuable first, unpriced groups last: one aggregate
    statement per group and price currency (conversion is linear: each group's sum is converted once)."""
    column: Any = GROUPS[(kind, group)]
    by_release = column.class_ is DiscogsRelease
    own_artist = Item.details["artist"].as_string().label("own_artist")  # what the member typed or imported
    priced = priced_items(owner_id, kinds=(kind,), columns=(Item.discogs_release_id, own_artist) if by_release
                          else (column.label("grp"),))  # fmt: skip
    # A record's artist: its own (edited or imported), else the cached release's, as the Collection page shows it.
    grouped = func.coalesce(func.nullif(priced.c.own_artist, ""), column) if by_release else priced.c.grp
    query = select(grouped, priced.c.currency, func.sum(priced.c.quantity),
                   func.sum(case((priced.c.unit_price.is_not(None), priced.c.quantity), else_=0)),
                   func.sum(priced.c.quantity * priced.c.unit_price))  # fmt: skip
    if by_release:
        query = query.select_from(priced).outerjoin(DiscogsRelease, DiscogsRelease.id == priced.c.discogs_release_id)
    rates = current_rates()
    buckets: dict[str, dict[str, Any]] = {}
    for value_name, unit_currency, copies, priced_copies, value in session.execute(
        query.group_by(grouped, priced.c.currency)
    ):
        bucket = buckets.setdefault(str(value_name) if value_name not in (None, "") else "Unknown",
                                    {"copies": 0, "priced": 0, "value": None})  # fmt: skip
        bucket["copies"] += int(copies)
        converted = rates.convert(Decimal(value), unit_currency, currency) if value is not None else None
        if converted is not None:  # no price, or a currency without a rate: unpriced, never 0
            bucket["priced"] += int(priced_copies)
            bucket["value"] = (bucket["value"] or Decimal(0)) + converted
    found = [GroupValue(name, b["copies"], b["priced"], cents(b["value"]) if b["value"] is not None
                        else None) for name, b in buckets.items()]  # fmt: skip
    return sorted(found, key=lambda g: (g.value is None, -(g.value or 0), g.name))
