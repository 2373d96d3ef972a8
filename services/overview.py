"""The Overview's figures, computed from the same chosen price per item as the valuation (services.pricing):
value now, what was paid and the gain or loss by kind; value over time per kind; top items; biggest movers
over 7 and 30 days; recent additions. Typed results; the page only draws them.

Honesty rules: an item without a price is counted as unpriced, never as 0; the gain is computed only over the
items that have both a price and a known purchase price, and says over how many.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select, true
from sqlalchemy.orm import Session

from services.collection import count_items
from services.exchange_rates import ExchangeRates, current_rates
from services.memo import Recalled, recalled, remembered
from services.pricing import PRICE_KEY, HistoryPoint, Valuation, priced_items, valuation, value_history
from services.states import JobStatus
from services.store.db import without_jit
from services.store.models import Item, PriceObservation, utcnow
from services.tasks import Task, TaskState, latest_task
from services.validation import cents

OVERVIEW = "overview"  # the memo's answer name (services/memo.py)
INLINE_ENTRIES = 2_000  # a first Overview of up to this many entries is computed in the view, not in a task
UPDATE_AT_MOST_EVERY = timedelta(minutes=1)  # between two updates started by a view


@dataclass(frozen=True)
class KindTotals:
    kind: str
    copies: int
    entries: int
    unpriced: int  # entries with no price
    value: Decimal  # of the priced entries
    cost: Decimal  # what was paid, for the entries with a known purchase price
    cost_entries: int  # how many entries have a known purchase price
    gain: Decimal  # value − cost over the entries with both
    gain_entries: int  # how many entries the gain covers

    @property
    def priced_entries(self) -> int:
        """Entries the value counts: with none, the kind's value is unknown, not 0."""
        return self.entries - self.unpriced


@dataclass(frozen=True)
class OverviewTotals:
    currency: str
    kinds: tuple[KindTotals, ...]

    @property
    def copies(self) -> int:
        return sum(kind.copies for kind in self.kinds)

    @property
    def unpriced(self) -> int:
        return sum(kind.unpriced for kind in self.kinds)

    @property
    def value(self) -> Decimal:
        return sum((kind.value for kind in self.kinds), Decimal(0))

    @property
    def priced_entries(self) -> int:
        return sum(kind.priced_entries for kind in self.kinds)

    @property
    def cost(self) -> Decimal:
        return sum((kind.cost for kind in self.kinds), Decimal(0))

    @property
    def gain(self) -> Decimal:
        return sum((kind.gain for kind in self.kinds), Decimal(0))

    @property
    def cost_entries(self) -> int:
        return sum(kind.cost_entries for kind in self.kinds)

    @property
    def gain_entries(self) -> int:
        return sum(kind.gain_entries for kind in self.kinds)


@dataclass(frozen=True)
class ItemValue:
    item_id: int
    kind: str
    title: str
    copies: int
    value: Decimal  # copies × unit price, in the overview's currency


@dataclass(frozen=True)
class Mover:
    item_id: int
    kind: str
    title: str
    before: Decimal  # the line's value then
    now: Decimal
    since: datetime

    @property
    def change(self) -> Decimal:
        return self.now - self.before

    @property
    def change_ratio(self) -> float | None:
        return float(self.change / self.before) if self.before else None


@dataclass(frozen=True)
class RecentItem:
    item_id: int
    kind: str
    title: str
    added: datetime


def _converted(
    rates: ExchangeRates, amount: Any, from_currency: str, currency: str, quantity: int = 1
) -> Decimal | None:
    """``amount`` × ``quantity`` in ``currency`` at the latest ECB rate; None without a rate (unpriced)."""
    value = rates.convert(Decimal(amount), from_currency, currency)
    return value * quantity if value is not None else None


def totals(session: Session, owner_id: int, currency: str) -> OverviewTotals:
    """Value, cost and gain per kind of the held items, in ``currency``: one aggregate statement, grouped by
    kind, price currency, purchase currency and which of the two the entries have (conversion is linear, so
    converting each group's sum is converting each entry)."""
    rates = current_rates()
    priced = priced_items(owner_id, columns=(Item.acquired_price, Item.acquired_currency))
    has_price, has_cost = priced.c.unit_price.is_not(None), priced.c.acquired_price.is_not(None)
    rows = session.execute(
        select(priced.c.kind, priced.c.currency, priced.c.acquired_currency, has_price, has_cost, func.count(),
               func.sum(priced.c.quantity), func.sum(priced.c.quantity * priced.c.unit_price),
               func.sum(priced.c.quantity * priced.c.acquired_price))
        .group_by(priced.c.kind, priced.c.currency, priced.c.acquired_currency, has_price, has_cost)
    )  # fmt: skip
    buckets: dict[str, dict[str, Any]] = {}
    for kind, price_currency, paid_currency, priced_, costed, entries, copies, value_sum, cost_sum in rows:
        bucket = buckets.setdefault(kind, {"copies": 0, "entries": 0, "unpriced": 0, "value": Decimal(0),
                                           "cost": Decimal(0), "cost_entries": 0, "gain": Decimal(0),
                                           "gain_entries": 0})  # fmt: skip
        bucket["copies"] += int(copies)
        bucket["entries"] += int(entries)
        value = _converted(rates, value_sum, price_currency, currency) if priced_ else None
        cost = _converted(rates, cost_sum, paid_currency or currency, currency) if costed else None
        if value is None:
            bucket["unpriced"] += entries
        else:
            bucket["value"] += value
        if cost is not None:
            bucket["cost"] += cost
            bucket["cost_entries"] += entries
        if value is not None and cost is not None:
            bucket["gain"] += value - cost
            bucket["gain_entries"] += entries
    kinds = tuple(
        KindTotals(kind, b["copies"], b["entries"], b["unpriced"], cents(b["value"]), cents(b["cost"]),
                   b["cost_entries"], cents(b["gain"]), b["gain_entries"])
        for kind, b in sorted(buckets.items(), key=lambda entry: -entry[1]["value"])
    )  # fmt: skip
    return OverviewTotals(currency, kinds)


def top_items(session: Session, owner_id: int, currency: str, *, limit: int = 10) -> list[ItemValue]:
    """The held items worth most (copies × unit price)."""
    priced = priced_items(owner_id)
    rows = session.execute(
        select(priced.c.id, priced.c.kind, priced.c.title, priced.c.quantity, priced.c.unit_price, priced.c.currency)
        .where(priced.c.unit_price.is_not(None))
        .order_by((priced.c.quantity * priced.c.unit_price).desc())
        .limit(limit * 3)  # currencies differ: take more, convert, then cut
    )  # fmt: skip
    rates = current_rates()
    found = []
    for item_id, kind, title, quantity, unit, unit_currency in rows:
        value = _converted(rates, unit, unit_currency, currency, quantity)
        if value is not None:
            found.append(ItemValue(item_id, kind, title, quantity, cents(value)))
    return sorted(found, key=lambda item: -item.value)[:limit]


def movers(session: Session, owner_id: int, currency: str, *, days: int, limit: int = 10) -> list[Mover]:
    """The held items whose value changed most since ``days`` ago (see movers_since)."""
    return movers_since(session, owner_id, currency, (days,), limit=limit)[days]


def movers_since(
    session: Session, owner_id: int, currency: str, periods: tuple[int, ...], *, limit: int = 10
) -> dict[int, list[Mover]]:
    """Per period in days, the held items whose value changed most since then (see _movers)."""
    return _movers(session, owner_id, currency, periods, limit=limit).found


@dataclass(frozen=True)
class _Movers:
    found: dict[int, list[Mover]]
    valid_until: datetime | None  # when a cutoff passes the next observation (None: no later observation)


MOVER_MARGIN = 0.03  # in the display currency: see _movers


def _movers(session: Session, owner_id: int, currency: str, periods: tuple[int, ...], *, limit: int) -> _Movers:
    """Per period in days, the held items whose value changed most since then: today's chosen price against
    the newest observation of the same series at or before then (items with no price that far back are left
    out). The answer holds until the earliest first observation after a cutoff plus its period, when that
    cutoff passes it.

    One statement, by index seeks on ix_price_observations_series (series key, date, currency, value), never
    a pass over the observations: per series the held items follow (five conditions of a card share one), the
    newest observation at or before each cutoff and the first one after it are each a seek (ORDER BY in the
    index's order, LIMIT 1, correlated on the series; observations tied on that date count as the one sorting
    last by currency, then value). The statement also ranks: it converts each line's change with the rates
    as literal factors (floats: close, not exact) and returns only the lines whose change is within
    MOVER_MARGIN of the ``limit``-th largest, which holds every line that can rank in the top ``limit`` once
    changes are rounded to the cent (each rounding moves a change by at most 0.01); the exact Decimal
    conversion and ranking of those few lines happen here. Reading and converting all 100,000 lines in Python
    took most of the time before."""
    now = utcnow()
    rates = current_rates()
    cutoffs = {days: now - timedelta(days=days) for days in periods}
    priced = priced_items(owner_id)
    # The CTEs are MATERIALIZED (SQLite ≥ 3.35, PostgreSQL ≥ 12): inlined, the chosen prices were resolved twice
    # and each seek ran again per item and per use of its column (an older SQLite gets the slow plan, not a
    # syntax error). They carry only what the ranking needs; the candidates' kind and title are read at the end.
    old_sqlite = session.get_bind().dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35)
    materialized = "" if old_sqlite else "MATERIALIZED"
    key = [priced.c[name] for name in PRICE_KEY]
    held = (
        select(priced.c.id, priced.c.quantity, priced.c.unit_price, priced.c.currency, *key)
        .where(priced.c.unit_price.is_not(None))
        .cte("held")
        .prefix_with(materialized)
    )
    series = select(*(held.c[name] for name in PRICE_KEY)).group_by(*(held.c[name] for name in PRICE_KEY)).subquery()
    observation = (PriceObservation.observed_at, PriceObservation.currency, PriceObservation.value)

    def seek(columns: tuple[Any, ...], cutoff: datetime, *, before: bool) -> Select[Any]:
        """The series' newest observation at or before ``cutoff`` (``before``), or its first one after it, as
        ``columns``: one index seek."""
        return (
            select(*columns)
            .where(*(getattr(PriceObservation, name) == series.c[name] for name in PRICE_KEY),
                   observation[0] <= cutoff if before else observation[0] > cutoff)
            .order_by(*(part.desc() if before else part.asc() for part in observation))
            .limit(1)
        )  # fmt: skip

    nexts = [seek(observation[:1], cutoff, before=False).scalar_subquery().label(f"next_{days}")
             for days, cutoff in cutoffs.items()]  # fmt: skip
    names = ("at", "currency", "value")
    if session.get_bind().dialect.name == "postgresql":  # one LATERAL seek gives the three columns
        laterals = {days: seek(observation, cutoff, before=True).lateral(f"then_{days}")
                    for days, cutoff in cutoffs.items()}  # fmt: skip
        dates_query = select(
            *series.c,
            *nexts,
            *(
                laterals[days].c[column.name].label(f"{name}_{days}")
                for days in periods
                for name, column in zip(names, observation, strict=True)
            ),
        )
        dates_query = dates_query.select_from(series)
        for lateral in laterals.values():
            dates_query = dates_query.outerjoin(lateral, true())
    else:  # SQLite has no LATERAL: a scalar subquery, a seek, per column
        dates_query = select(
            *series.c,
            *nexts,
            *(
                seek((column,), cutoff, before=True).scalar_subquery().label(f"{name}_{days}")
                for days, cutoff in cutoffs.items()
                for name, column in zip(names, observation, strict=True)
            ),
        )
    dates = dates_query.cte("dates").prefix_with(materialized)

    factors = {code: float(factor) for code in {*rates.currencies, currency}
               if (factor := rates.convert(Decimal(1), code, currency)) is not None}  # fmt: skip

    def in_display(amount: Any, amount_currency: Any) -> Any:
        return amount * case(factors, value=amount_currency, else_=None)  # None: no rate, no mover

    lines = (
        select(held.c.id, held.c.quantity, held.c.unit_price, held.c.currency,
               *(dates.c[f"{name}_{days}"] for days in periods for name in ("value", "currency", "at")),
               *(func.abs(held.c.quantity * (in_display(held.c.unit_price, held.c.currency)
                                             - in_display(dates.c[f"value_{days}"], dates.c[f"currency_{days}"])))
                 .label(f"change_{days}") for days in periods))
        # Every held item's series is in dates; an outer join keeps the held items the outer loop on SQLite,
        # which then indexes dates (as an inner join it scanned dates once per item).
        .outerjoin(dates, and_(*(dates.c[name] == held.c[name] for name in PRICE_KEY)))
        .cte("lines")
        .prefix_with(materialized)
    )  # fmt: skip

    def within_reach(days: int) -> Any:
        change = lines.c[f"change_{days}"]
        tenth = select(change).where(change.is_not(None)).order_by(change.desc()).offset(limit - 1).limit(1)
        return change >= func.coalesce(tenth.scalar_subquery(), 0) - MOVER_MARGIN

    candidates = (
        select(lines, Item.kind, Item.title)
        .join(Item, Item.id == lines.c.id)
        .where(or_(*(within_reach(days) for days in periods)))
        .subquery("candidates")
    )
    first_next = select(*(func.min(dates.c[f"next_{days}"]).label(f"next_{days}") for days in periods)).subquery()
    query = (
        select(*first_next.c, candidates.c.id, candidates.c.kind, candidates.c.title, candidates.c.quantity,
               candidates.c.unit_price, candidates.c.currency,
               *(candidates.c[f"{name}_{days}"] for days in periods for name in ("value", "currency", "at")))
        .select_from(first_next)
        .outerjoin(candidates, true())  # one row with no candidate still says until when the answer holds
    )  # fmt: skip
    found: dict[int, dict[int, Mover]] = {days: {} for days in periods}
    with without_jit(session):
        rows = session.execute(query).all()
    following = [moment + timedelta(days=days) for moment, days in zip(rows[0][: len(periods)], periods, strict=True)
                 if moment is not None]  # fmt: skip
    for row in rows:
        item_id, kind, title, quantity, unit, unit_currency = row[len(periods) : len(periods) + 6]
        if item_id is None:
            continue
        earlier: tuple[Any, ...] = tuple(row[len(periods) + 6 :])
        value_now = _converted(rates, unit, unit_currency, currency, quantity)
        for index, days in enumerate(periods):
            old, old_currency, at = earlier[3 * index : 3 * index + 3]
            value_then = _converted(rates, old, old_currency, currency, quantity) if old is not None else None
            if value_now is None or value_then is None:
                continue
            now_value, before = cents(value_now), cents(value_then)
            if now_value != before:
                found[days][item_id] = Mover(item_id, kind, title, before, now_value, at)
    ranked = {days: sorted(moved.values(), key=lambda mover: (-abs(mover.change), mover.item_id))[:limit]
              for days, moved in found.items()}  # fmt: skip
    return _Movers(ranked, min(following, default=None))


def recent_additions(session: Session, owner_id: int, *, limit: int = 10) -> list[RecentItem]:
    rows = session.execute(
        select(Item.id, Item.kind, Item.title, Item.created_at)
        .where(Item.owner_id == owner_id)
        .order_by(Item.created_at.desc(), Item.id.desc())
        .limit(limit)
    )
    return [RecentItem(item_id, kind, title, added) for item_id, kind, title, added in rows]


@dataclass(frozen=True)
class Overview:
    """Everything the Overview page shows, read in one go."""

    totals: OverviewTotals
    valuation: Valuation  # by kind, no sets: the page shows its rate date and the entries without a rate
    history: list[HistoryPoint]
    top: list[ItemValue]
    movers_7: list[Mover]
    movers_30: list[Mover]
    recent: list[RecentItem]


def overview(session: Session, owner_id: int, currency: str, *, wait_for_writer: bool = False) -> Overview:
    """The Overview, remembered per member and currency until the member's items, any price, the price order
    or the exchange rates change, or a movers' cutoff passes an observation (services/memo.py): computing it
    reads every held item's series, seconds at 100,000 items. Always current: background tasks use it (and the
    page for a small first Overview); the page shows remembered_overview() while a task runs this.
    ``wait_for_writer``: see services.memo.remembered."""
    rates = current_rates()

    def compute() -> tuple[Overview, datetime | None]:
        moved = _movers(session, owner_id, currency, (7, 30), limit=10)
        answer = Overview(
            totals(session, owner_id, currency), valuation(session, owner_id, currency, rates, sets=False),
            value_history(session, owner_id, currency, rates, by_kind=True),
            top_items(session, owner_id, currency), moved.found[7], moved.found[30],
            recent_additions(session, owner_id),
        )  # fmt: skip
        return answer, moved.valid_until

    return remembered(session, owner_id, OVERVIEW, currency, rates, Overview, compute, wait_for_writer=wait_for_writer)


def remembered_overview(session: Session, owner_id: int, currency: str) -> Recalled[Overview] | None:
    """The member's Overview as last remembered and whether it is still current, without computing it (None:
    never computed): the page shows it at once, even when a write made it stale, while a task updates it."""
    return recalled(session, owner_id, OVERVIEW, currency, current_rates(), Overview)


class OverviewShown(StrEnum):
    """What the Overview page shows: decided here, drawn there."""

    CURRENT = "current"  # the remembered figures hold
    COMPUTE_HERE = "compute_here"  # a member's first Overview of a small collection: computed in the view
    UPDATING = "updating"  # stale (or never computed): an update runs, or is to be started now
    FAILED = "failed"  # the update since the figures failed: not started again by itself (it would loop)
    PAUSED = "paused"  # stale again within a minute of the last update: not started again by itself


@dataclass(frozen=True)
class OverviewView:
    shown: OverviewShown
    memo: Recalled[Overview] | None
    update: TaskState | None  # the member's latest Overview task
    start_update: bool  # the view is to start an update (none is running, none failed or ended just now)
    resumes_at: datetime | None = None  # PAUSED: when a view starts the update by itself


def overview_view(session: Session, owner_id: int, currency: str) -> OverviewView:
    """What a view of the Overview shows, never computing it. A stale Overview is shown as it is while a
    background task updates it, but an update is not started by a view when the last one failed since those
    figures (it would fail in a loop: the page offers a button) or, for a collection of more than INLINE_ENTRIES,
    ended less than UPDATE_AT_MOST_EVERY ago (a catalogue sync commits set by set, each commit making every
    member's figures stale again, and a big collection's update takes seconds)."""
    update = latest_task(session, owner_id, Task.OVERVIEW)  # read before the memo (see ui/progress.py task_panel)
    memo = remembered_overview(session, owner_id, currency)
    if memo is not None and memo.current:
        return OverviewView(OverviewShown.CURRENT, memo, update, False)
    if memo is None and count_items(session, owner_id) <= INLINE_ENTRIES:
        return OverviewView(OverviewShown.COMPUTE_HERE, memo, update, False)
    running = update is not None and update.running
    ended = None if update is None or running else update.finished_at
    if (update is not None and not running and update.status is not JobStatus.DONE
            and (memo is None or ended is None or ended > memo.computed_at)):  # fmt: skip
        shown = OverviewShown.FAILED  # or cut off by a server stop (no end recorded)
    elif (memo is not None and ended is not None and utcnow() - ended < UPDATE_AT_MOST_EVERY
          and count_items(session, owner_id) > INLINE_ENTRIES):  # fmt: skip
        # (a small collection's update takes well under a second: it is never paused)
        return OverviewView(OverviewShown.PAUSED, memo, update, False, ended + UPDATE_AT_MOST_EVERY)
    else:
        shown = OverviewShown.UPDATING
    return OverviewView(shown, memo, update, shown is OverviewShown.UPDATING and not running)
