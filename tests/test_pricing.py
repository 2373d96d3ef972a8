"""Valuation agrees with a hand computation; unknown prices are counted, never valued at 0."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from services.collection import add_card, add_item
from services.integrations.pokemontcg.catalog import load_offline_snapshot
from services.pricing import Observation, record_observations, valuation, value_history
from services.store.models import User, utcnow
from tests.rates_support import per_euro


@pytest.fixture
def catalogue(session: Session) -> None:
    load_offline_snapshot(session)


def _tcg(card: str, printing: str, value: str, days_ago: int = 0, metric: str = "market") -> Observation:
    return Observation(
        "pokemontcg", card, "tcgplayer", printing, metric, "USD", Decimal(value), utcnow() - timedelta(days=days_ago)
    )


def test_value_of_cards_by_hand(session: Session, owner: User, catalogue: None) -> None:
    add_card(session, owner.id, "base5-83", quantity=2, printing="holofoil")  # Dark Raichu, secret rare
    add_card(session, owner.id, "base5-4", quantity=1, printing="holofoil")
    add_card(session, owner.id, "base5-50", quantity=3)  # no price anywhere
    add_card(session, owner.id, "base1-4", quantity=1, printing="holofoil")
    record_observations(
        session,
        [
            _tcg("base5-83", "holofoil", "100.00", days_ago=40),
            _tcg("base5-83", "holofoil", "150.00"),  # newest wins
            _tcg("base5-83", "normal", "999.00"),  # another printing: ignored
            _tcg("base5-4", "holofoil", "20.00", metric="mid"),  # no market price: mid is next
            _tcg("base1-4", "holofoil", "300.00"),
        ],
    )
    report = valuation(session, owner.id, "USD").to_json()
    assert report["totalEstimatedValue"] == pytest.approx(2 * 150 + 20 + 300)
    assert report["totalItems"] == 7
    assert report["itemsWithoutPrice"] == 1
    team_rocket = next(s for s in report["bySet"] if s["set"]["id"] == "base5")
    assert team_rocket == {
        "set": {"id": "base5", "name": "Team Rocket"},
        "uniqueCards": 3,
        "totalQuantity": 6,
        "estimatedValue": 320.0,
        "printedTotal": 82,
        "setTotal": 83,
        "baseCompletion": round(2 / 82, 4),  # card 83 is numbered beyond the printed total
        "completion": round(3 / 83, 4),
    }


def test_currency_conversion_and_not_held_statuses(session: Session, owner: User) -> None:
    coin = add_item(session, owner.id, kind="coin", title="kept", grade_code="xf")
    sold = add_item(session, owner.id, kind="coin", title="sold", grade_code="xf", status="sold")
    record_observations(
        session,
        [Observation("item", str(i.id), "manual", "", "estimate", "USD", Decimal("100")) for i in (coin, sold)],
    )
    report = valuation(session, owner.id, "EUR").to_json()
    assert report["totalItems"] == 1
    assert report["totalEstimatedValue"] == float(round(100 / per_euro("USD"), 2))  # newest ECB fixing


def test_value_history_follows_the_chosen_series(session: Session, owner: User, catalogue: None) -> None:
    add_card(session, owner.id, "base1-4", quantity=2, printing="holofoil")
    record_observations(session, [_tcg("base1-4", "holofoil", "100", days_ago=65), _tcg("base1-4", "holofoil", "130")])
    history = [point.to_json() for point in value_history(session, owner.id, "USD")]
    assert [point["estimatedValue"] for point in history] == [200.0, 260.0]
