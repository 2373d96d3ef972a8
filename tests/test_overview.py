"""The Overview's figures (services/overview.py) and page: value, cost and gain by kind, history per kind,
top items, movers, recent additions; unpriced entries never counted as 0."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from services.collection import add_item
from services.demo import load_demo
from services.overview import overview, totals
from services.pricing import valuation
from services.store.models import User

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def test_value_cost_and_gain_by_kind(session: Session, owner: User) -> None:
    load_demo(session, owner.id)
    add_item(session, owner.id, kind="coin", title="1 Sol 1864", acquired_price=Decimal("40"),
             acquired_currency="EUR")  # fmt: skip  # paid, but no price: not in the gain, not a 0 value
    result = totals(session, owner.id, "EUR")
    report = valuation(session, owner.id, "EUR").to_json()
    assert float(result.value) == report["totalEstimatedValue"]
    coins = next(kind for kind in result.kinds if kind.kind == "coin")
    assert coins.unpriced == 1 and coins.entries == 22 and coins.cost_entries == 22 and coins.gain_entries == 21
    assert coins.gain == coins.value - (coins.cost - Decimal("40.00"))
    records = next(kind for kind in result.kinds if kind.kind == "record")
    assert records.cost_entries == 0 and records.gain_entries == 0  # nothing paid recorded: no gain claimed


def test_history_per_kind_top_items_movers_and_recent(session: Session, owner: User) -> None:
    load_demo(session, owner.id)
    data = overview(session, owner.id, "EUR")
    assert {point.kind for point in data.history} == {"coin", "card", "record"}
    assert len({point.month for point in data.history}) == 13  # a year of monthly points
    assert all(point.month.day == 1 for point in data.history)
    assert data.top[0].value >= data.top[-1].value and len(data.top) == 10
    assert data.movers_30 and all(mover.now > mover.before for mover in data.movers_30)  # the demo drifts up
    assert abs(data.movers_30[0].change) >= abs(data.movers_30[-1].change)
    assert len(data.recent) == 10


def test_overview_page_shows_money_with_currency(app_env: str) -> None:
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.button(key="load_demo").click().run()
    assert not at.exception, at.exception
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Estimated value"].endswith(" EUR") and metrics["What you paid"].endswith(" EUR")
    assert metrics["Gain / loss"].startswith("+")
    tables = " ".join(str(frame.value.to_numpy().tolist()) for frame in at.dataframe)
    assert "None" not in tables and "nan" not in tables and "T0" not in tables


def test_a_group_with_no_price_is_unpriced_not_zero(session: Session, owner: User) -> None:
    from services.sets_view import group_values

    load_demo(session, owner.id)
    add_item(session, owner.id, kind="coin", title="Sol 1864", country="Peru", series="Sol")
    groups = {group.name: group for group in group_values(session, owner.id, "coin", "series", "EUR")}
    assert groups["Sol"].value is None and groups["Sol"].copies == 1
    assert groups["2 Euro"].value is not None and groups["2 Euro"].value > 0
    assert list(groups)[-1] == "Sol"  # unpriced groups last
    artists = group_values(session, owner.id, "record", "artist", "EUR")
    assert sum(group.copies for group in artists) == 5 and all(group.value is not None for group in artists)
