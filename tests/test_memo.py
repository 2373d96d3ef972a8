"""The remembered Overview (services/memo.py) is never stale: after each class of write (item add, edit and
delete, Core executemany imports, price observations, own estimates, rates, currency and price order, the
clock passing a movers' cutoff) the Overview equals the one computed afresh, and a member's memo is theirs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, insert, select, text, update
from sqlalchemy.orm import Session

from services import overview as overview_module
from services.collection import add_item, delete_item, update_item
from services.config import current_settings, load_settings, use_settings
from services.demo import load_demo
from services.exchange_rates import current_rates
from services.overview import (
    Overview,
    movers_since,
    overview,
    recent_additions,
    remembered_overview,
    top_items,
    totals,
)
from services.pricing import Observation, record_observations, set_own_estimate, valuation, value_history
from services.store.db import session_scope
from services.store.models import Item, LatestPrice, PriceObservation, User, table_of, utcnow
from services.store.models_memo import AggregateMemo


def afresh(session: Session, owner_id: int, currency: str = "EUR") -> Overview:
    """The Overview computed from its parts, never from a memo."""
    moved = movers_since(session, owner_id, currency, (7, 30))
    return Overview(
        totals(session, owner_id, currency),
        valuation(session, owner_id, currency, sets=False),
        value_history(session, owner_id, currency, by_kind=True),
        top_items(session, owner_id, currency),
        moved[7],
        moved[30],
        recent_additions(session, owner_id),
    )


def fresh_after(session: Session, owner: User, currency: str = "EUR") -> Overview:
    shown = overview(session, owner.id, currency)
    assert shown == afresh(session, owner.id, currency)
    return shown


@pytest.fixture
def remembered(session: Session, owner: User) -> Overview:
    """The demo collection, its Overview remembered."""
    load_demo(session, owner.id)
    first = overview(session, owner.id, "EUR")
    assert session.scalar(select(AggregateMemo.answer).where(AggregateMemo.owner_id == owner.id)) == "overview"
    return first


def test_a_repeat_view_is_read_from_the_memo(
    session: Session, owner: User, remembered: Overview, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert remembered == afresh(session, owner.id)
    monkeypatch.setattr(overview_module, "totals", lambda *_args: pytest.fail("computed again"))
    assert overview(session, owner.id, "EUR") == remembered  # every field read back equal, types included


def test_adding_editing_and_deleting_an_item(session: Session, owner: User, remembered: Overview) -> None:
    coin = add_item(session, owner.id, kind="coin", title="1 Sol 1864", acquired_price=Decimal("40"))
    set_own_estimate(session, coin.id, Decimal("75"), "EUR")
    added = fresh_after(session, owner)
    assert added.totals.value == remembered.totals.value + Decimal("75.00")
    assert added.recent[0].title == "1 Sol 1864"
    update_item(session, owner.id, coin.id, coin.version, quantity=3)
    assert fresh_after(session, owner).totals.value == remembered.totals.value + Decimal("225.00")
    update_item(session, owner.id, coin.id, coin.version, status="sold")  # no longer held
    assert fresh_after(session, owner).totals.value == remembered.totals.value
    delete_item(session, owner.id, coin.id)
    assert fresh_after(session, owner).recent == remembered.recent


def test_core_executemany_imports_and_bulk_updates(session: Session, owner: User, remembered: Overview) -> None:
    session.execute(insert(table_of(Item)), [
        {"owner_id": owner.id, "kind": "record", "title": f"Imported {n}", "quantity": 1, "status": "owned",
         "created_at": utcnow() + timedelta(seconds=n), "updated_at": utcnow(), "version": 1} for n in range(3)
    ])  # fmt: skip
    assert fresh_after(session, owner).recent[0].title == "Imported 2"
    session.execute(update(table_of(Item)).where(Item.owner_id == owner.id, Item.kind == "coin").values(quantity=2))
    doubled = fresh_after(session, owner)
    assert doubled.totals.copies > remembered.totals.copies
    session.execute(text("DELETE FROM items WHERE kind = 'card'"))  # even a hand-written statement
    assert all(kind.kind != "card" for kind in fresh_after(session, owner).totals.kinds)


def test_price_observations_and_own_estimates(session: Session, owner: User, remembered: Overview) -> None:
    top = session.get(Item, remembered.top[0].item_id)
    assert top is not None
    set_own_estimate(session, top.id, Decimal("99999"), "EUR")
    assert fresh_after(session, owner).top[0].value == Decimal("99999.00") * top.quantity
    set_own_estimate(session, top.id, None, "EUR")  # withdrawn: a latest price deleted, no new observation
    assert fresh_after(session, owner).totals == remembered.totals
    key = session.execute(select(LatestPrice).limit(1)).scalar_one()
    record_observations(session, [Observation(key.ref_kind, key.ref_id, key.source, key.variant, key.metric,
                                              key.currency, key.value * 3)])  # fmt: skip
    assert fresh_after(session, owner).totals != remembered.totals
    session.execute(delete(PriceObservation).where(PriceObservation.observed_at < utcnow() - timedelta(days=200)))
    assert len(fresh_after(session, owner).history) < len(remembered.history)


def test_currency_rates_and_price_order(
    session: Session, owner: User, remembered: Overview, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_usd = fresh_after(session, owner, "USD")
    assert in_usd.totals.currency == "USD" and in_usd.totals.value != remembered.totals.value
    assert overview(session, owner.id, "EUR") == remembered  # one memo per currency
    downloaded = tmp_path / "rates" / "eurofxref-hist.zip"
    downloaded.parent.mkdir(parents=True, exist_ok=True)
    downloaded.write_bytes(_rates_zip("Date,USD,\n2026-11-27,2.0000,\n"))
    monkeypatch.setenv("VITRINE_RATES_FILE", str(downloaded))
    assert current_rates().rate_date.isoformat() == "2026-11-27"
    assert fresh_after(session, owner, "USD").totals.value != in_usd.totals.value

    card = add_item(session, owner.id, kind="card", title="Charizard", pokemontcg_card_id="zz1-4", printing="holofoil")
    record_observations(session, [Observation("pokemontcg", "zz1-4", "tcgplayer", "holofoil", "market", "EUR",
                                              Decimal("300")),
                                  Observation("pokemontcg", "zz1-4", "cardmarket", "", "trend", "EUR",
                                              Decimal("200"))])  # fmt: skip
    by_market = fresh_after(session, owner)
    use_settings(load_settings({"VITRINE_CARD_PRICE_ORDER": "cardmarket:trend, tcgplayer:market"}))
    assert current_settings().card_price_order[0] == ("cardmarket", "trend")
    by_trend = fresh_after(session, owner)
    assert by_market.totals.value - by_trend.totals.value == Decimal("100.00") and card.id


def test_an_upgrade_of_the_code_recomputes(
    session: Session, owner: User, remembered: Overview, monkeypatch: pytest.MonkeyPatch
) -> None:
    computed = []
    monkeypatch.setattr(overview_module, "totals", lambda *args: computed.append(1) or totals(*args))
    assert overview(session, owner.id, "EUR") == remembered and not computed
    monkeypatch.setattr("services.memo.code_version", lambda: "the next release")
    assert overview(session, owner.id, "EUR") == remembered and computed


def test_the_clock_passing_a_movers_cutoff(session: Session, owner: User, monkeypatch: pytest.MonkeyPatch) -> None:
    coin, now = add_item(session, owner.id, kind="coin", title="1 Sol 1864"), utcnow()
    record_observations(session, [
        Observation("item", str(coin.id), "manual", "", "estimate", "EUR", Decimal(value), now - timedelta(days=ago))
        for value, ago in (("100", 40), ("120", 6))
    ])  # fmt: skip
    assert [mover.before for mover in overview(session, owner.id, "EUR").movers_7] == [Decimal("100.00")]
    later = utcnow() + timedelta(days=2)  # the 7-day cutoff has passed the 120 observed 6 days ago
    monkeypatch.setattr(overview_module, "utcnow", lambda: later)
    monkeypatch.setattr("services.memo.utcnow", lambda: later)
    assert overview(session, owner.id, "EUR").movers_7 == []


def test_a_members_memo_is_theirs(session: Session, owner: User, other_owner: User, remembered: Overview,
                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    assert overview(session, other_owner.id, "EUR").totals.copies == 0
    add_item(session, other_owner.id, kind="coin", title="Bob's coin")
    assert fresh_after(session, other_owner).recent[0].title == "Bob's coin"
    monkeypatch.setattr(overview_module, "totals", lambda *_args: pytest.fail("computed again"))
    assert overview(session, owner.id, "EUR") == remembered  # another member's write leaves Ann's memo valid


def test_a_rolled_back_view_leaves_no_memo(engine: Engine, owner: User, session: Session) -> None:
    load_demo(session, owner.id)
    session.commit()
    with pytest.raises(RuntimeError), session_scope(engine) as viewing:
        overview(viewing, owner.id, "EUR")
        raise RuntimeError("the page failed after the view")
    assert session.scalar(select(AggregateMemo.owner_id)) is None


def test_a_busy_sqlite_writer_never_makes_a_view_wait(tmp_path: Path, owner: User, session: Session,
                                                      engine: Engine) -> None:  # fmt: skip
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's one writer")
    load_demo(session, owner.id)
    session.commit()
    with engine.connect() as importing:
        importing.exec_driver_sql("BEGIN IMMEDIATE")  # an import holding the writer
        with Session(engine) as viewing:
            assert overview(viewing, owner.id, "EUR") == afresh(viewing, owner.id)
            viewing.commit()
        importing.rollback()
    assert session.scalar(select(AggregateMemo.owner_id)) is None  # not remembered, and no 30 s wait


def _rates_zip(csv: str) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("eurofxref-hist.csv", csv)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def _default_price_order() -> Iterator[None]:
    yield
    use_settings(load_settings())


def test_the_remembered_overview_is_read_as_it_is_and_says_whether_it_is_current(
    session: Session, owner: User, remembered: Overview, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the page shows while a task updates it: the memo, and whether it still holds, never computed."""
    monkeypatch.setattr(overview_module, "_movers", lambda *_args, **_kwargs: pytest.fail("computed"))
    assert remembered_overview(session, owner.id + 1000, "EUR") is None  # never computed
    shown = remembered_overview(session, owner.id, "EUR")
    assert shown is not None and shown.current and shown.value == remembered
    add_item(session, owner.id, kind="coin", title="one more")
    stale = remembered_overview(session, owner.id, "EUR")
    assert stale is not None and not stale.current and stale.value == remembered
    assert stale.computed_at == shown.computed_at


def test_a_memo_of_another_code_version_is_never_read_back(
    session: Session, owner: User, remembered: Overview, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an upgrade the page must not decode a memo the previous version wrote (its fields may differ: here
    one is missing): it reads as never remembered, and the page computes the Overview again."""
    session.execute(update(AggregateMemo).where(AggregateMemo.owner_id == owner.id).values(payload='{"totals": null}'))
    monkeypatch.setattr("services.memo.code_version", lambda: "the next release")
    assert remembered_overview(session, owner.id, "EUR") is None
