"""The Overview's figures, computed from the same chosen price per item as the valuation (services.pricing):
value now, what was paid and the gain or loss by kind; value over time per kind; top items; biggest movers
over 7 and 30 days; recent additions. Typed results; the page only draws them.

Honesty rules: an item without a price is counted as unpriced, never as 0; the gain is computed only over the
items that have both a price and a known purchase price, and says over how many.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from services.exchange_rates import ExchangeRates, current_rates
from services.memo import remembered
from services.pricing import PRICE_KEY, HistoryPoint, Valuation, priced_items, valuation, value_history
from services.store.models import Item, PriceObservation, utcnow

CENT = Decimal("0.01")


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


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT)


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
        KindTotals(kind, b["copies"], b["entries"], b["unpriced"], _money(b["value"]), _money(b["cost"]),
                   b["cost_entries"], _money(b["gain"]), b["gain_entries"])
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
            found.append(ItemValue(item_id, kind, title, quantity, _money(value)))
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


def _movers(session: Session, owner_id: int, currency: str, periods: tuple[int, ...], *, limit: int) -> _Movers:
    """Per period in days, the held items whose value changed most since then: today's chosen price against
    the newest observation of the same series at or before then (items with no price that far back are left
    out). One statement for every period: the date of that observation per series and period is one grouped
    pass over the observations of the series the held items follow (index ranges of the series key; five
    conditions of a card share one series, so each observation is read once, not once per item), and each
    value is then one index seek on (series key, date). The same pass finds each series' first observation
    after each cutoff: the answer holds until the earliest of them plus its period, when a cutoff passes it."""
    now = utcnow()
    cutoffs = {days: now - timedelta(days=days) for days in periods}
    priced = priced_items(owner_id)
    key = [priced.c[name] for name in PRICE_KEY]
    series = select(*key).where(priced.c.unit_price.is_not(None)).group_by(*key).subquery("series")
    dates = (
        select(*series.c,
               *(func.max(case((PriceObservation.observed_at <= cutoff, PriceObservation.observed_at)))
                 .label(f"at_{days}") for days, cutoff in cutoffs.items()),
               *(func.min(case((PriceObservation.observed_at > cutoff, PriceObservation.observed_at)))
                 .label(f"next_{days}") for days, cutoff in cutoffs.items()))
        .join(PriceObservation, and_(*(getattr(PriceObservation, name) == series.c[name] for name in PRICE_KEY)))
        .group_by(*series.c)
        .cte("dates")  # a CTE, computed once: as a subquery SQLite repeated it in each kind's branch below
    )  # fmt: skip
    now_priced = priced_items(owner_id)
    query = select(now_priced.c.id, now_priced.c.kind, now_priced.c.title, now_priced.c.quantity,
                   now_priced.c.unit_price, now_priced.c.currency,
                   *(dates.c[f"next_{days}"] for days in periods))  # fmt: skip
    query = query.join(dates, and_(*(dates.c[name] == now_priced.c[name] for name in PRICE_KEY)))
    for days in periods:
        then = aliased(PriceObservation, name=f"then_{days}")
        at = dates.c[f"at_{days}"]
        query = query.add_columns(then.value, then.currency, at).outerjoin(
            then, and_(*(getattr(then, name) == now_priced.c[name] for name in PRICE_KEY), then.observed_at == at)
        )
    rates = current_rates()
    found: dict[int, dict[int, Mover]] = {days: {} for days in periods}
    changes: list[datetime] = []
    for row in session.execute(query):
        item_id, kind, title, quantity, unit, unit_currency = row[:6]
        following: tuple[Any, ...] = tuple(row[6 : 6 + len(periods)])
        earlier: tuple[Any, ...] = tuple(row[6 + len(periods) :])
        changes.extend(moment + timedelta(days=days) for moment, days in zip(following, periods, strict=True)
                       if moment is not None)  # fmt: skip
        value_now = _converted(rates, unit, unit_currency, currency, quantity)
        for index, days in enumerate(periods):
            old, old_currency, at = earlier[3 * index : 3 * index + 3]
            value_then = _converted(rates, old, old_currency, currency, quantity) if old is not None else None
            if value_now is None or value_then is None:
                continue
            now_value, before = _money(value_now), _money(value_then)
            if now_value != before:
                found[days][item_id] = Mover(item_id, kind, title, before, now_value, at)
    ranked = {days: sorted(moved.values(), key=lambda mover: -abs(mover.change))[:limit]
              for days, moved in found.items()}  # fmt: skip
    return _Movers(ranked, min(changes, default=None))


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


def overview(session: Session, owner_id: int, currency: str) -> Overview:
    """The Overview, remembered per member and currency until the member's items, any price, the price order
    or the exchange rates change, or a movers' cutoff passes an observation (services/memo.py): computing it
    reads every observation of every held item's series, seconds at 100,000 items."""
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

    return remembered(session, owner_id, "overview", currency, rates, Overview, compute)
