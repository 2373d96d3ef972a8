"""Card entries and their value: duplicate strategies, stale edits, unpriced entries (counted and listed, never
0), the configurable price order, and completion for sets whose total exceeds the printed total."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.card_prices import parse_price_order
from services.card_printings import card_printings
from services.collection import add_card, get_item, update_item
from services.config import SettingsError, load_settings, use_settings
from services.errors import Conflict, InvalidInput, StaleEdit
from services.integrations.pokemontcg.catalog import load_offline_snapshot
from services.integrations.pokemontcg.prices import price_rows
from services.integrations.pokemontcg.values import unpriced_entries
from services.pricing import Observation, record_observations, valuation
from services.store.db import session_scope
from services.store.models import User
from tests.rates_support import per_euro

DAY = datetime(2025, 11, 14, tzinfo=UTC)


@pytest.fixture
def catalogue(session: Session) -> None:
    load_offline_snapshot(session)


def observe(session: Session, card: dict[str, object]) -> None:
    """Record a card's price blocks the way the sync does (same mapping, pokemon_prices.price_rows)."""
    record_observations(
        session,
        [
            Observation("pokemontcg", str(card["id"]), source, variant, metric, currency, value, at)
            for source, variant, metric, currency, value, at in price_rows(card)
        ],
    )


def test_increment_and_separate(session: Session, owner: User, catalogue: None) -> None:
    added = add_card(
        session, owner.id, "base1-4", quantity=2, printing="holofoil", language="en", price=Decimal("250.00"),
        currency="USD", acquired=date(2024, 5, 1), notes="from a binder",
    )  # fmt: skip
    first = added.item
    assert added.created
    assert (first.quantity, first.grade, first.printing, first.language) == (2, "NM", "holofoil", "en")
    assert (first.acquired_price, first.acquired_date, first.notes) == (Decimal("250.00"), date(2024, 5, 1),
                                                                        "from a binder")  # fmt: skip
    same = add_card(session, owner.id, "base1-4", quantity=3, printing="holofoil")
    assert not same.created and same.item.id == first.id and same.item.quantity == 5
    with pytest.raises(Conflict) as refused:
        add_card(session, owner.id, "base1-4", printing="holofoil", strategy="separate")
    assert refused.value.code == "DUPLICATE_ENTRY"
    assert get_item(session, owner.id, first.id).quantity == 5  # the refusal changed nothing
    played = add_card(session, owner.id, "base1-4", condition="lp", printing="holofoil", strategy="separate")
    japanese = add_card(session, owner.id, "base1-4", printing="holofoil", language="ja", strategy="separate")
    assert played.created and japanese.created and played.item.grade == "LP"
    assert len({first.id, played.item.id, japanese.item.id}) == 3
    for bad in ({"quantity": 0}, {"condition": "MINT"}, {"printing": "shiny"}):
        with pytest.raises(InvalidInput):
            add_card(session, owner.id, "base1-4", **bad)  # type: ignore[arg-type]


def test_a_stale_edit_is_refused(engine: Engine, owner: User, session: Session, catalogue: None) -> None:
    item = add_card(session, owner.id, "base5-83", quantity=1, printing="holofoil").item
    session.commit()
    opened_at = item.version  # the edit form was opened on this version
    with session_scope(engine) as other:  # someone else saves first
        update_item(other, owner.id, item.id, opened_at, quantity=4)
    with pytest.raises(StaleEdit), session_scope(engine) as late:
        update_item(late, owner.id, item.id, opened_at, quantity=2)  # refused, not overwritten
    with session_scope(engine) as fresh:
        kept = get_item(fresh, owner.id, item.id)
        assert (kept.quantity, kept.version) == (4, 2)
        update_item(fresh, owner.id, item.id, kept.version, quantity=3, notes="recounted")
    with session_scope(engine) as fresh:
        assert get_item(fresh, owner.id, item.id).quantity == 3


def test_a_racing_edit_is_refused(engine: Engine, owner: User, session: Session, catalogue: None) -> None:
    item = add_card(session, owner.id, "base5-83", quantity=1, printing="holofoil").item
    session.commit()  # `item` stays in this session's identity map at version 1
    with session_scope(engine) as other:
        update_item(other, owner.id, item.id, 1, quantity=4)
    try:
        with pytest.raises(StaleEdit):
            update_item(session, owner.id, item.id, 1, quantity=2)
    finally:
        session.rollback()


def test_unpriced_entries_are_counted_and_listed_never_valued_at_zero(
    session: Session, owner: User, catalogue: None
) -> None:
    observe(session, {"id": "base5-4", "tcgplayer": {"updatedAt": "2025/11/14", "prices": {
        "holofoil": {"market": 40.0, "mid": 45.0}, "1stEditionHolofoil": {"market": 120.0}}}})  # fmt: skip
    observe(session, {"id": "sv1-20", "cardmarket": {"updatedAt": "2025/11/14", "prices": {
        "trendPrice": 0.5, "reverseHoloTrend": 2.0}}})  # fmt: skip
    observe(session, {"id": "base5-20", "tcgplayer": {"prices": {"normal": {"market": None, "mid": 1.25}}},
                      "cardmarket": {"prices": {"trendPrice": 9.99}}})  # fmt: skip
    observe(session, {"id": "base5-10", "cardmarket": {"prices": {"trendPrice": 30.0}}})
    add_card(session, owner.id, "base5-4", quantity=2, printing="holofoil")  # 2 × 40 USD (market)
    add_card(session, owner.id, "base5-4", printing="1stEditionHolofoil")  # 120 USD
    add_card(session, owner.id, "sv1-20", quantity=3, printing="reverseHolofoil")  # 3 × 2 EUR: Cardmarket reverse
    add_card(session, owner.id, "sv1-20")  # 0.50 EUR: Cardmarket card-level trend stands for a normal copy
    add_card(session, owner.id, "base5-20")  # no market: TCGplayer mid, 1.25 USD, beats Cardmarket
    lonely = add_card(session, owner.id, "base5-10", printing="1stEditionHolofoil").item  # Cardmarket only: no price
    nothing = add_card(session, owner.id, "base5-50", quantity=4).item  # no price anywhere
    report = valuation(session, owner.id, "USD").to_json()
    expected_usd = 2 * 40 + 120 + 1.25 + (3 * 2 + 0.5) * float(per_euro("USD"))  # newest ECB fixing
    assert report["totalEstimatedValue"] == pytest.approx(round(expected_usd, 2), abs=0.01)
    assert report["itemsWithoutPrice"] == 2 and report["totalItems"] == 2 + 1 + 3 + 1 + 1 + 1 + 4
    listed = unpriced_entries(session, owner.id)
    assert [e.item_id for e in listed] == [lonely.id, nothing.id]  # Team Rocket 10 before 50
    assert (listed[0].set_id, listed[0].set_name) == ("base5", "Team Rocket") and listed[1].quantity == 4
    assert unpriced_entries(session, owner.id, kind="coin") == []
    assert card_printings(session, "base5-4") == ("holofoil", "1stEditionHolofoil")


def test_price_order_is_configurable(session: Session, owner: User, catalogue: None) -> None:
    observe(session, {"id": "base1-4", "tcgplayer": {"prices": {"holofoil": {"market": 300.0, "mid": 350.0}}},
                      "cardmarket": {"prices": {"trendPrice": 200.0, "avg30": 210.0}}})  # fmt: skip
    add_card(session, owner.id, "base1-4", printing="holofoil")
    assert valuation(session, owner.id, "USD").to_json()["totalEstimatedValue"] == 300.0  # default: TCGplayer market
    use_settings(load_settings({"VITRINE_CARD_PRICE_ORDER": "cardmarket:avg30, tcgplayer:market"}))
    assert valuation(session, owner.id, "EUR").to_json()["totalEstimatedValue"] == 210.0
    use_settings(load_settings({"VITRINE_CARD_PRICE_ORDER": "tcgplayer:mid"}))
    assert valuation(session, owner.id, "USD").to_json()["totalEstimatedValue"] == 350.0
    assert parse_price_order("") == [("tcgplayer", "market"), ("tcgplayer", "mid"), ("cardmarket", "trend")]
    with pytest.raises(SettingsError, match=r"VITRINE_CARD_PRICE_ORDER.*ebay:sold"):  # a typo is refused
        load_settings({"VITRINE_CARD_PRICE_ORDER": "tcgplayer:mid,ebay:sold"})


def by_set(session: Session, owner: User) -> dict[str, dict[str, object]]:
    return {entry["set"]["id"]: entry for entry in valuation(session, owner.id, "EUR").to_json()["bySet"]}


def test_completion_when_the_set_total_exceeds_the_printed_total(
    session: Session, owner: User, catalogue: None
) -> None:
    for card in ("base5-1", "base5-83", "sv1-1", "sv1-198", "sv1-199", "sv1-258", "svp-1", "svp-150"):
        add_card(session, owner.id, card)
    add_card(session, owner.id, "sv1-1", printing="reverseHolofoil")  # a second entry of one card
    sets = by_set(session, owner)
    rocket, scarlet, promos = sets["base5"], sets["sv1"], sets["svp"]
    assert (rocket["printedTotal"], rocket["setTotal"], rocket["uniqueCards"]) == (82, 83, 2)
    assert rocket["baseCompletion"] == round(1 / 82, 4) and rocket["completion"] == round(2 / 83, 4)
    assert (scarlet["printedTotal"], scarlet["setTotal"], scarlet["uniqueCards"], scarlet["totalQuantity"]) == (
        198, 258, 4, 5
    )  # fmt: skip
    assert scarlet["baseCompletion"] == round(2 / 198, 4) and scarlet["completion"] == round(4 / 258, 4)
    # svp's `total` says 75 but the set has 165 cards: completion counts the card list.
    assert (promos["printedTotal"], promos["setTotal"]) == (102, 165)
    assert promos["baseCompletion"] == round(1 / 102, 4) and promos["completion"] == round(2 / 165, 4)
    assert promos["estimatedValue"] == 0.0 and valuation(session, owner.id).to_json()["itemsWithoutPrice"] == 9
