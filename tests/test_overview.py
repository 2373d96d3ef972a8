"""The Overview's figures (services/overview.py) and page: value, cost and gain by kind, history per kind,
top items, movers, recent additions; unpriced entries never counted as 0."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from services.accounts import ensure_local_user
from services.collection import add_item
from services.context import open_context
from services.demo import load_demo
from services.exchange_rates import current_rates
from services.overview import _movers, movers_since, overview, remembered_overview, totals
from services.pricing import Observation, record_observations, set_own_estimate, valuation
from services.store.models import User, utcnow
from tests.sync_support import wait_task

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


def test_movers_compare_with_the_newest_price_at_or_before_each_cutoff(session: Session, owner: User) -> None:
    coin = add_item(session, owner.id, kind="coin", title="1 Sol 1864", quantity=2)
    steady = add_item(session, owner.id, kind="coin", title="2 Soles 1870")
    add_item(session, owner.id, kind="coin", title="no history")
    record_observations(session, [
        Observation("item", str(item.id), "manual", "", "estimate", "EUR", Decimal(value),
                    utcnow() - timedelta(days=ago))
        for item, value, ago in ((coin, "100", 40), (coin, "110", 35), (coin, "120", 10), (coin, "150", 0),
                                 (steady, "50", 20), (steady, "50", 0))
    ])  # fmt: skip
    moved = movers_since(session, owner.id, "EUR", (7, 30))
    assert [(m.item_id, m.before, m.now) for m in moved[7]] == [(coin.id, Decimal("240.00"), Decimal("300.00"))]
    assert [(m.item_id, m.before, m.now) for m in moved[30]] == [(coin.id, Decimal("220.00"), Decimal("300.00"))]
    assert moved[30][0].since.date() == (utcnow() - timedelta(days=35)).date()


def test_movers_edges_ties_currencies_and_until_when(session: Session, owner: User) -> None:
    """Two observations at the same moment count as one (the higher value), a series whose currency changed
    converts each side in its own currency, a series with nothing before a cutoff has no mover for it, and
    the answer holds until a cutoff passes the first observation after it."""
    now = utcnow()
    tied = add_item(session, owner.id, kind="coin", title="tied")
    dollars = add_item(session, owner.id, kind="coin", title="once in dollars")
    young = add_item(session, owner.id, kind="coin", title="priced 20 days ago")
    record_observations(session, [
        Observation("item", str(item.id), "manual", "", "estimate", code, Decimal(value), now - timedelta(days=ago))
        for item, code, value, ago in ((tied, "EUR", "90", 40), (tied, "EUR", "100", 40), (tied, "EUR", "80", 40),
                                       (tied, "EUR", "130", 0), (dollars, "USD", "100", 40),
                                       (dollars, "EUR", "100", 0), (young, "EUR", "10", 20), (young, "EUR", "12", 0))
    ])  # fmt: skip
    in_euros = current_rates().convert(Decimal(100), "USD", "EUR").quantize(Decimal("0.01"))  # type: ignore[union-attr]
    moved = _movers(session, owner.id, "EUR", (7, 30), limit=10)
    assert {m.item_id: (m.before, m.now) for m in moved.found[30]} == {
        tied.id: (Decimal("100.00"), Decimal("130.00")),
        dollars.id: (in_euros, Decimal("100.00")),
    }
    assert {m.item_id for m in moved.found[7]} == {tied.id, dollars.id, young.id}
    # The 30-day cutoff reaches the observations of 20 days ago in 10 days; the 7-day one, today's in 7.
    assert moved.valid_until is not None
    assert abs(moved.valid_until - (now + timedelta(days=7))) < timedelta(minutes=1)


def test_movers_rank_exactly_past_the_first_ten(session: Session, owner: User) -> None:
    """With more movers than shown, in several currencies and with equal changes, the ten shown are the ten
    largest changes to the cent in the display currency (equal ones by item), as converting every line would
    rank them."""
    now, rates = utcnow(), current_rates()
    lines = []
    for n in range(24):
        item = add_item(session, owner.id, kind="coin", title=f"coin {n}", quantity=1 + n % 3)
        code, scale = (("EUR", 1), ("USD", 1), ("JPY", 100))[n % 3]  # a yen change looks big until converted
        then = Decimal(100 + n) * scale
        today = then + Decimal(n % 7) * scale + Decimal("0.01") * (n % 2)
        lines.append((item.id, item.quantity, code, then, today))
        record_observations(session, [
            Observation("item", str(item.id), "manual", "", "estimate", code, value, now - timedelta(days=ago))
            for value, ago in ((then, 40), (today, 0))
        ])  # fmt: skip
    expected = []
    for item_id, quantity, code, then, today in lines:
        before, after = (
            (rates.convert(value, code, "EUR") * quantity).quantize(Decimal("0.01"))  # type: ignore[operator]
            for value in (then, today)
        )
        if before != after:
            expected.append((-abs(after - before), item_id))
    shown = movers_since(session, owner.id, "EUR", (30,), limit=10)[30]
    assert [(m.item_id, abs(m.change)) for m in shown] == [
        (item_id, -change) for change, item_id in sorted(expected)[:10]
    ]


def test_the_page_shows_remembered_figures_while_a_task_updates_them(
    app_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a write the page shows the figures remembered before it, says they are being updated, and computes
    nothing itself; one background task (whichever tab looks) computes them, and the page then shows them."""
    import services.overview as overview_module
    import services.tasks as tasks_module
    import ui.progress as progress_module  # where pages start their tasks (start_page_task)

    at = AppTest.from_file(APP, default_timeout=90).run()
    at.button(key="load_demo").click().run()
    before = {metric.label: metric.value for metric in at.metric}["Estimated value"]
    with open_context().session() as session:
        owner_id = ensure_local_user(session).id
        coin = add_item(session, owner_id, kind="coin", title="Sol 1864")
        set_own_estimate(session, coin.id, Decimal("250000"), "EUR")
    started: list[tuple[int, Any]] = []
    real_run_in_thread = tasks_module.run_in_thread
    monkeypatch.setattr(progress_module, "run_in_thread", lambda _engine, job_id, work: started.append((job_id, work)))
    real_movers = overview_module._movers
    monkeypatch.setattr(overview_module, "_movers", lambda *_args, **_kwargs: pytest.fail("computed in the page"))

    at.run()
    assert not at.exception, at.exception
    assert {metric.label: metric.value for metric in at.metric}["Estimated value"] == before
    assert any("before your latest changes — updating…" in caption.value for caption in at.caption)
    other_tab = AppTest.from_file(APP, default_timeout=90).run()
    assert not other_tab.exception, other_tab.exception
    assert len(started) == 1  # the second tab follows the running task

    monkeypatch.setattr(overview_module, "_movers", real_movers)
    job_id, work = started[0]
    real_run_in_thread(open_context().engine, job_id, work).join(timeout=60)
    at.run()
    assert not at.exception, at.exception
    after = {metric.label: metric.value for metric in at.metric}["Estimated value"]
    assert Decimal(after.split()[0].replace(",", "")) - Decimal(before.split()[0].replace(",", "")) == 250_000
    assert not any("latest changes" in caption.value for caption in at.caption)
    with open_context().session() as session:
        remembered = remembered_overview(session, owner_id, "EUR")
        assert remembered is not None and remembered.current


def test_a_failed_update_is_not_started_again_by_itself(app_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An update that failed says why and offers a button; the page does not start it again on every run (it
    would fail in a loop)."""
    import services.task_work as task_work_module
    from services.tasks import Task, latest_task

    def failing(*_args: Any) -> Any:
        def work(_report: Any) -> Any:
            raise RuntimeError("the database went away")

        return work

    at = AppTest.from_file(APP, default_timeout=90).run()
    at.button(key="load_demo").click().run()
    before = {metric.label: metric.value for metric in at.metric}["Items (copies)"]
    with open_context().session() as session:
        add_item(session, ensure_local_user(session).id, kind="coin", title="Sol 1864")
    working = task_work_module.overview_work
    monkeypatch.setattr(task_work_module, "overview_work", failing)
    at.run()
    engine = open_context().engine
    wait_task(engine, Task.OVERVIEW)
    with open_context().session() as session:
        first = latest_task(session, ensure_local_user(session).id, Task.OVERVIEW)
    at.run()
    assert not at.exception, at.exception
    assert any("updating them stopped" in caption.value for caption in at.caption)
    assert any("unexpected error" in error.value for error in at.error)
    with open_context().session() as session:
        assert latest_task(session, ensure_local_user(session).id, Task.OVERVIEW) == first  # not started again
    assert {metric.label: metric.value for metric in at.metric}["Items (copies)"] == before  # the old figures
    monkeypatch.setattr(task_work_module, "overview_work", working)
    at.button(key="update_overview").click().run()
    wait_task(engine, Task.OVERVIEW)
    at.run()
    assert not any("latest changes" in caption.value for caption in at.caption)
    assert int({metric.label: metric.value for metric in at.metric}["Items (copies)"]) == int(before) + 1


def test_an_update_is_started_by_itself_at_most_once_a_minute(app_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Data that keeps changing (a catalogue sync commits set by set) does not make every open tab recompute
    after every commit: within a minute of the last update the page shows the figures of a big collection, says
    they changed again, and offers the button; the button updates them."""
    from services.tasks import Task, latest_task

    monkeypatch.setattr("services.overview.INLINE_ENTRIES", 10)  # the demo counts as a big collection here
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.button(key="load_demo").click().run()
    engine = open_context().engine
    with open_context().session() as session:
        owner_id = ensure_local_user(session).id
        add_item(session, owner_id, kind="coin", title="Sol 1864")
    at.run()  # stale: an update starts by itself
    wait_task(engine, Task.OVERVIEW)
    at.run()
    assert not any("changed" in caption.value for caption in at.caption)
    with open_context().session() as session:
        first = latest_task(session, owner_id, Task.OVERVIEW)
        add_item(session, owner_id, kind="coin", title="Sol 1865")
    at.run()
    assert not at.exception, at.exception
    assert any("changed again since" in caption.value for caption in at.caption)
    with open_context().session() as session:
        assert latest_task(session, owner_id, Task.OVERVIEW) == first  # none started by itself
    before = int({metric.label: metric.value for metric in at.metric}["Items (copies)"])
    at.button(key="update_overview").click().run()
    wait_task(engine, Task.OVERVIEW)
    at.run()
    assert not any("changed again" in caption.value for caption in at.caption)
    assert int({metric.label: metric.value for metric in at.metric}["Items (copies)"]) == before + 1


def test_movers_on_a_sqlite_older_than_materialized_ctes(
    session: Session, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite before 3.35 has no MATERIALIZED: the same movers, by the slower plan, not a syntax error."""
    import types

    import services.overview as overview_module

    load_demo(session, owner.id)
    current = movers_since(session, owner.id, "EUR", (7, 30))
    monkeypatch.setattr(overview_module, "sqlite3", types.SimpleNamespace(sqlite_version_info=(3, 34, 1)))
    assert movers_since(session, owner.id, "EUR", (7, 30)) == current and current[30]


def test_a_failing_statement_without_jit_raises_its_own_error(session: Session) -> None:
    """without_jit (services/store/db.py) must not hide a failed statement's error behind PostgreSQL's
    "current transaction is aborted" from putting the setting back (a task then reports the real cause)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from services.store.db import without_jit

    with pytest.raises(DBAPIError, match="no_such_table"), without_jit(session):
        session.execute(text("SELECT * FROM no_such_table"))


def test_figures_stale_again_within_a_minute_of_an_update_are_not_called_up_to_date(
    app_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written again less than a minute after an update ended: the page says the figures changed since, offers
    the button, and does not show that update's "up to date" beside them; it starts the update by itself once
    the minute has passed (services.overview.overview_view: resumes_at)."""
    from services.overview import UPDATE_AT_MOST_EVERY, OverviewShown, overview_view
    from services.tasks import Task

    monkeypatch.setattr("services.overview.INLINE_ENTRIES", 10)  # the demo counts as a big collection here
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.button(key="load_demo").click().run()
    with open_context().session() as session:
        owner_id = ensure_local_user(session).id
        add_item(session, owner_id, kind="coin", title="Sol 1864")
    at.run()  # stale: the page starts an update
    wait_task(open_context().engine, Task.OVERVIEW)
    at.run()
    assert not any("latest changes" in caption.value for caption in at.caption)  # current figures
    with open_context().session() as session:
        add_item(session, owner_id, kind="coin", title="Sol 1865")
    at.run()
    assert not at.exception, at.exception
    assert any("changed again since" in caption.value for caption in at.caption)
    assert not any("up to date" in success.value for success in at.success)
    assert at.button(key="update_overview") is not None
    with open_context().session() as session:
        view = overview_view(session, owner_id, "EUR")
    assert view.shown is OverviewShown.PAUSED and view.update is not None and view.update.finished_at is not None
    assert view.resumes_at == view.update.finished_at + UPDATE_AT_MOST_EVERY and not view.start_update
    later = view.resumes_at + timedelta(seconds=1)  # what the page's rerun (ui/progress.rerun_at) then sees
    monkeypatch.setattr("services.overview.utcnow", lambda: later)
    with open_context().session() as session:
        resumed = overview_view(session, owner_id, "EUR")
    assert resumed.shown is OverviewShown.UPDATING and resumed.start_update and resumed.resumes_at is None


def test_a_small_collection_is_updated_again_at_once_never_paused(app_env: str) -> None:
    """Written again right after an update: a collection of up to INLINE_ENTRIES entries starts its next update
    at once (well under a second) instead of pausing for a minute."""
    from services.overview import OverviewShown, overview_view
    from services.tasks import Task

    at = AppTest.from_file(APP, default_timeout=90).run()
    at.button(key="load_demo").click().run()
    with open_context().session() as session:
        owner_id = ensure_local_user(session).id
        add_item(session, owner_id, kind="coin", title="Sol 1864")
    at.run()
    wait_task(open_context().engine, Task.OVERVIEW)
    with open_context().session() as session:
        add_item(session, owner_id, kind="coin", title="Sol 1865")
        view = overview_view(session, owner_id, "EUR")
    assert view.shown is OverviewShown.UPDATING and view.start_update and view.resumes_at is None
    at.run()
    assert not at.exception, at.exception
    assert not any("changed again since" in caption.value for caption in at.caption)


def test_a_collection_without_any_price_shows_no_value_not_zero(app_env: str) -> None:
    with open_context().session() as session:
        owner_id = ensure_local_user(session).id
        add_item(session, owner_id, kind="coin", title="Sol 1864")
        add_item(session, owner_id, kind="coin", title="Sol 1865")
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception, at.exception
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Estimated value"] == "no price" and metrics["Entries without a price"] == "2"
    by_kind = next(frame.value for frame in at.dataframe if "Without a price" in frame.value.columns)
    assert by_kind["Value"].tolist() == ["no price"]
    assert any("No entry has a price yet" in caption.value for caption in at.caption)  # and no all-zero bar chart


def test_totals_add_up_and_agree_on_every_page(session: Session, owner: User) -> None:
    """The Overview and `value` give the same total, the sum of their kinds as shown, each rounded once half up
    (services.validation.cents): the Overview summed its rounded kinds where `value` rounded the exact sum, so two
    kinds each a third of a cent above a whole cent read 2,302.85 on one and 2,302.86 on the other."""
    rates = current_rates()
    amounts = (Decimal(number) / 100 for number in range(101, 100_000))
    def sub_cent(amount: Decimal) -> Decimal:
        return (rates.convert(amount, "USD", "EUR") or Decimal(0)) % Decimal("0.01")

    third_of_a_cent = [amount for amount in amounts if Decimal("0.0031") <= sub_cent(amount) < Decimal("0.0049")]
    coin = add_item(session, owner.id, kind="coin", title="Sol 1864")
    record = add_item(session, owner.id, kind="record", title="Kind of Blue")
    set_own_estimate(session, coin.id, third_of_a_cent[0], "USD")
    set_own_estimate(session, record.id, third_of_a_cent[1], "USD")
    shown = totals(session, owner.id, "EUR")
    report = valuation(session, owner.id, "EUR", sets=False)
    assert {kind.kind: kind.value for kind in shown.kinds} == {kind.kind: kind.value for kind in report.kinds}
    assert shown.value == report.value == sum((kind.value for kind in report.kinds), Decimal(0))


def test_money_is_rounded_half_up_where_it_enters_too() -> None:
    """A stored amount (an API's 0.125, an import's 2.345) rounds as the figures do (services.validation.cents)."""
    from services.validation import cents, check_money

    assert check_money(0.125) == cents(Decimal("0.125")) == Decimal("0.13")
    assert check_money("2.345") == Decimal("2.35")
