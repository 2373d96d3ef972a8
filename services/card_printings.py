"""Which printings a card has, and which one an entry gets: one rule for the command line, the Catalog page,
CSV imports and the API.

A card's printings are the keys of its TCGplayer price block (pokemontcg.io's ``tcgplayer.prices``): kept on
the card by the catalogue sync (``PokemonCard.printings``, even for a printing without a single price) and
seen as the variants of its stored TCGplayer prices (cards synced before that column existed). Why it
matters: the printing decides the price an entry is valued at; a holo-only card stored as ``normal`` gets no
TCGplayer price and falls back to Cardmarket's card-level trend, a different figure in another currency.
When the catalogue knows nothing about a card's printings (not synced, or no TCGplayer block), any printing
of the usual list is accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.card_prices import DEMO_CARD_PRICE, card_price_variant
from services.config import current_settings
from services.errors import InvalidInput
from services.states import CARD_PRINTINGS
from services.store.models import LatestPrice, PokemonCard

_RANK = {printing: rank for rank, printing in enumerate(CARD_PRINTINGS)}
_BATCH = 500


def in_usual_order(printings: Iterable[str]) -> tuple[str, ...]:
    """The usual printings first in their order, then any other TCGplayer key alphabetically."""
    return tuple(sorted(set(printings), key=lambda p: (_RANK.get(p, len(_RANK)), p)))


def known_printings(session: Session, card_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """card id → its printings in the usual order, for the cards whose printings the catalogue knows."""
    found: dict[str, set[str]] = {}
    ids = list(dict.fromkeys(card_ids))
    for start in range(0, len(ids), _BATCH):
        batch = ids[start : start + _BATCH]
        listed = session.execute(
            select(PokemonCard.id, PokemonCard.printings).where(
                PokemonCard.id.in_(batch), PokemonCard.printings.is_not(None)
            )
        )
        for card_id, printings in listed:
            found.setdefault(card_id, set()).update(printings or ())
        priced = session.execute(
            select(LatestPrice.ref_id, LatestPrice.variant)
            .where(
                LatestPrice.ref_kind == "pokemontcg",
                LatestPrice.source == "tcgplayer",
                LatestPrice.ref_id.in_(batch),
            )
            .distinct()
        )
        for card_id, variant in priced:
            if variant:
                found.setdefault(card_id, set()).add(variant)
    return {card_id: in_usual_order(printings) for card_id, printings in found.items()}


def card_printings(session: Session, card_id: str) -> tuple[str, ...]:
    """The printings an entry of this card may have: its own when known, else the usual list."""
    return known_printings(session, [card_id]).get(card_id) or CARD_PRINTINGS


def default_printing(printings: Sequence[str]) -> str:
    """The printing of an entry that names none: the card's only one, or its first in the usual order."""
    return in_usual_order(printings)[0]


def suggested_printing(session: Session, card_id: str, printings: Sequence[str]) -> str:
    """The printing a form offers first for a new entry of this card: the first of ``printings`` that the
    valuation would price (services.pricing's card candidates: each (source, metric) of
    VITRINE_CARD_PRICE_ORDER, then the demo's price, at the variant card_price_variant names), else the first."""
    stored = {
        (source, variant, metric)
        for source, variant, metric in session.execute(
            select(LatestPrice.source, LatestPrice.variant, LatestPrice.metric).where(
                LatestPrice.ref_kind == "pokemontcg", LatestPrice.ref_id == card_id
            )
        )
    }
    counted = (*current_settings().card_price_order, DEMO_CARD_PRICE)

    def priced(printing: str) -> bool:
        return any((source, card_price_variant(source, printing), metric) in stored for source, metric in counted)

    return next((printing for printing in printings if priced(printing)), printings[0])


def choose_printing(card_label: str, requested: str | None, printings: Sequence[str]) -> str:
    """REQUESTED if the card has it (PRINTINGS: the card's, or the usual list when unknown); without one,
    the default printing. Refused with INVALID_PRINTING when the card was not printed that way."""
    if not requested:
        return default_printing(printings)
    if requested not in printings:
        if tuple(printings) == CARD_PRINTINGS:
            reason = f"Printing must be one of {', '.join(CARD_PRINTINGS)}."
        else:
            reason = f"{card_label} exists only as {', '.join(printings)}, not {requested}."
        raise InvalidInput(reason, code="INVALID_PRINTING")
    return requested
