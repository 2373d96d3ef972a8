"""Price observations (a time series per catalogue reference) and valuation of a user's collection.

Every source only says what a thing is worth *now*; keeping each observation is what makes value history
possible. `latest_prices` holds the newest observation per key so valuing 100,000 items is index lookups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    Integer,
    Select,
    String,
    Subquery,
    and_,
    any_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, aliased

from services.card_prices import CARDMARKET_VARIANT_OF, DEMO_CARD_PRICE
from services.config import current_settings
from services.errors import InvalidInput
from services.exchange_rates import ExchangeRates, current_rates
from services.states import NOT_HELD_STATUSES
from services.store.models import (
    Item,
    LatestPrice,
    PokemonCard,
    PokemonSet,
    PriceObservation,
    table_of,
    utcnow,
)
from services.validation import MONEY_MAX, QUANTITY_MAX, QUANTITY_MIN, cents, check_currency, check_money

# The sources price in USD (TCGplayer), EUR (Cardmarket) or the requested currency (Numista, the user's
# own); services/exchange_rates.py converts with the ECB reference rates. An amount in a currency without
# a rate is unpriced (counted in itemsWithoutPrice and itemsWithoutRate), never taken 1:1.
PRICE_KEY = ("ref_kind", "ref_id", "source", "variant", "metric")


@dataclass(frozen=True)
class Observation:
    ref_kind: str
    ref_id: str
    source: str
    variant: str
    metric: str
    currency: str
    value: Decimal
    observed_at: datetime | None = None


def record_observations(session: Session, observations: Iterable[Observation]) -> int:
    """Append observations to the history and move the latest-price pointer forward."""
    rows = [
        {
            "ref_kind": o.ref_kind,
            "ref_id": o.ref_id,
            "source": o.source,
            "variant": o.variant,
            "metric": o.metric,
            "currency": o.currency,
            "value": o.value,
            "observed_at": o.observed_at or utcnow(),
        }
        for o in observations
    ]
    if not rows:
        return 0
    session.execute(table_of(PriceObservation).insert(), rows)  # Core executemany (batched)
    newest: dict[tuple[str, ...], dict[str, Any]] = {}
    for row in rows:  # one row per key: an upsert may not touch the same row twice
        key = tuple(str(row[name]) for name in PRICE_KEY)
        if key not in newest or row["observed_at"] >= newest[key]["observed_at"]:
            newest[key] = row
    from sqlalchemy.dialects import postgresql, sqlite  # here: the dialect modules cost a CLI start ~35 ms

    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table_of(LatestPrice))
    statement = statement.on_conflict_do_update(
        index_elements=list(PRICE_KEY),
        set_={name: statement.excluded[name] for name in ("currency", "value", "observed_at")},
        where=statement.excluded.observed_at >= table_of(LatestPrice).c.observed_at,
    )
    session.execute(statement, list(newest.values()))
    return len(rows)


# Preferred price per kind, first match wins: (ref_kind, reference column, source, variant column, metric).
# A user's own estimate (ref_kind "item") beats every catalogue source.
def _candidates() -> dict[str, list[tuple[str, Any, str, Any, str]]]:
    item_ref = cast(Item.id, String)
    grade = func.coalesce(Item.grade_code, "")
    printing = func.coalesce(Item.printing, "normal")
    by_variant: dict[str, list[str]] = {}
    for card_printing, variant in CARDMARKET_VARIANT_OF.items():
        by_variant.setdefault(variant, []).append(card_printing)
    cardmarket_variant = case(
        *((printing.in_(printings), literal(variant)) for variant, printings in by_variant.items()),
        else_=literal("-"),  # matches no Cardmarket row
    )
    return {
        "card": [
            ("item", item_ref, "manual", literal(""), "estimate"),
            # VITRINE_CARD_PRICE_ORDER (default tcgplayer:market, tcgplayer:mid, cardmarket:trend). TCGplayer
            # prices each printing; Cardmarket's card-level series stands for normal/holofoil copies and its
            # reverse-holo series for reverseHolofoil ones (never for 1st editions: see pokemon_prices).
            *(
                ("pokemontcg", Item.pokemontcg_card_id, source,
                 printing if source == "tcgplayer" else cardmarket_variant, metric)
                for source, metric in current_settings().card_price_order
            ),
            ("pokemontcg", Item.pokemontcg_card_id, DEMO_CARD_PRICE[0], printing, DEMO_CARD_PRICE[1]),
        ],
        "coin": [
            ("item", item_ref, "manual", literal(""), "estimate"),
            ("numista_issue", cast(Item.numista_issue_id, String), "numista", grade,
             "estimate"),
            ("item", item_ref, "opennumismat", grade, "catalogue"),
            ("item", item_ref, "demo", grade, "estimate"),
        ],
        "record": [
            ("item", item_ref, "manual", literal(""), "estimate"),
            ("discogs_release", cast(Item.discogs_release_id, String), "discogs",
             grade, "suggested"),
            # No price suggestions (no seller settings): the release's lowest marketplace price.
            ("discogs_release", cast(Item.discogs_release_id, String), "discogs", literal(""), "lowest"),
            ("item", item_ref, "demo", grade, "estimate"),
        ],
    }  # fmt: skip


def priced_items(
    owner_id: int | BindParameter[int] | None,
    *where: Any,
    columns: Iterable[Any] = (),
    kinds: Iterable[str] | None = None,
    lean: bool = False,
) -> Subquery:
    """One row per held item of the owner (every member's with None): id, kind, title, quantity (clamped),
    Pokémon set, the chosen unit price, its currency and its price key (so value history and movers follow
    the same series), plus the Item ``columns`` asked for; ``where`` narrows the items (Item columns).
    ``lean``: only id, unit price and currency (a page's prices: a shorter statement, which the PostgreSQL
    driver parses once and caches, where it parses a long one again on every execution).

    Which price wins is resolved once, in this one statement, and nowhere else: per kind, the item's
    candidates are outer-joined to ``latest_prices`` by its primary key (a maintained newest-observation
    table, upserted by record_observations) and the first one in range wins. Each kind is its own branch of
    a UNION ALL, so an item is looked up against its own kind's 4–6 candidates only, with no correlated
    subquery. A further maintained per-item "current price" table was weighed and not chosen: every writer
    (imports, syncs, edits, the API, a changed VITRINE_CARD_PRICE_ORDER) would have to keep it true, and a
    stale row would silently change a valuation; these index lookups cost about as much as the plain join
    a hand-written aggregate needs anyway (bench/scale.py prints both).
    """
    extra = tuple(columns)
    held = [Item.status.not_in(NOT_HELD_STATUSES), *where]
    if owner_id is not None:
        held.insert(0, Item.owner_id == owner_id)
    branches = _priced_branches(tuple(current_settings().card_price_order), lean)
    wanted = set(kinds) if kinds is not None else set(branches)
    selects = [branch.add_columns(*extra).where(Item.kind == kind, *held)
               for kind, branch in branches.items() if kind in wanted]  # fmt: skip
    if len(selects) == 1:
        return selects[0].subquery("priced")
    return union_all(*selects).subquery("priced")


@lru_cache(maxsize=8)
def _priced_branches(_price_order: tuple[tuple[str, str], ...], lean: bool) -> dict[str, Select[Any]]:
    """The owner-independent part of priced_items, one Select per kind, built once per price order: building
    its aliased joins costs more than running it for a page of items (a Select is immutable: sharing is safe)."""
    # A quantity stored before the ranges were checked (services/validation.py) counts as 1: never an overflow.
    quantity = case((Item.quantity.between(QUANTITY_MIN, QUANTITY_MAX), Item.quantity), else_=1).label("quantity")
    branches = {}
    for kind, candidates in _candidates().items():
        chosen: dict[str, list[tuple[Any, Any]]] = {
            name: [] for name in ("value", "currency", *(() if lean else PRICE_KEY))
        }
        joins = []
        for ref_kind, ref_expr, source, variant_expr, metric in candidates:
            price = aliased(LatestPrice)
            joins.append((price, and_(price.ref_kind == ref_kind, price.ref_id == ref_expr, price.source == source,
                                      price.variant == variant_expr, price.metric == metric)))  # fmt: skip
            found = price.value.between(0, MONEY_MAX)  # a stored out-of-range price reads as no price
            for name in chosen:
                chosen[name].append((found, getattr(price, name)))
        unit_price = case(*chosen.pop("value"), else_=None).label("unit_price")
        picked = [unit_price, *(case(*whens, else_=None).label(name) for name, whens in chosen.items())]
        if lean:
            query = select(Item.id, *picked).select_from(Item)
        else:
            set_id = PokemonCard.set_id if kind == "card" else cast(null(), String(40))
            query = select(Item.id, Item.kind, Item.title, quantity, set_id.label("set_id")).add_columns(*picked)
            query = query.select_from(Item)
            if kind == "card":
                query = query.outerjoin(PokemonCard, PokemonCard.id == Item.pokemontcg_card_id)
        for alias, condition in joins:
            query = query.outerjoin(alias, condition)
        branches[kind] = query
    return branches


def _month(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _day(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return func.to_char(column, "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


@dataclass(frozen=True)
class HistoryPoint:
    """The estimated value of the held items (of one kind, or of every kind: kind None) in one month."""

    month: date  # the first day of the month
    kind: str | None
    value: Decimal  # to the cent
    entries: int  # items with an observation that month

    def to_json(self) -> dict[str, Any]:
        return {"month": self.month.strftime("%Y-%m"), "estimatedValue": float(self.value), "entries": self.entries}


def value_history(
    session: Session,
    owner_id: int,
    currency: str = "EUR",
    rates: ExchangeRates | None = None,
    *,
    by_kind: bool = False,
) -> list[HistoryPoint]:
    """Estimated value per month (and kind, with ``by_kind``), following each item's chosen price series back
    in time: the one home of the value-over-time rule, for `value`, the API and the Overview.

    A month counts each item at the average of its observations in that month, each observation
    converted at the ECB rate of its own day; an item with no observation in a month is absent from it
    (so early months of a new collection read low), and so is one priced in a currency without a rate.
    One statement sums, per day, currency (and kind), quantity × value / (the series' observations that
    month), so the rows returned are bounded by days × currencies × kinds, not by items. Items are first
    grouped by the series they follow (five conditions of a card, the coins of one issue and grade share
    one), so each observation is read once per series, not once per item; each series is numbered, so the
    per-month count of its observations partitions on that number rather than on the five key strings (narrower
    sort rows: about a fifth less time at 100,000 items).
    """
    rates = rates or current_rates()
    dialect = session.get_bind().dialect.name
    priced = priced_items(owner_id)
    key = [priced.c[name] for name in PRICE_KEY]
    series = (
        select(*key, priced.c.kind, func.sum(priced.c.quantity).label("copies"), func.count().label("entries"),
               func.row_number().over().label("number"))
        .where(priced.c.ref_kind.is_not(None))
        .group_by(*key, priced.c.kind)
        .subquery("series")
    )  # fmt: skip
    month_of = _month(PriceObservation.observed_at, dialect)
    observations = (
        select(
            month_of.label("month"),
            _day(PriceObservation.observed_at, dialect).label("day"),
            PriceObservation.currency,
            series.c.kind,
            series.c.entries,
            (series.c.copies * PriceObservation.value).label("line"),
            func.count()
            .over(partition_by=(series.c.number, month_of, PriceObservation.currency))
            .label("in_month"),
        )
        .select_from(series)
        .join(PriceObservation, and_(*(getattr(PriceObservation, name) == series.c[name] for name in PRICE_KEY)))
        .subquery()
    )  # fmt: skip
    kind = observations.c.kind if by_kind else literal(None, String).label("kind")
    grouping: list[Any] = [observations.c.month, observations.c.day, observations.c.currency]
    rows = session.execute(
        select(
            observations.c.month,
            observations.c.day,
            observations.c.currency,
            kind,
            func.sum(observations.c.line / observations.c.in_month),
            func.sum(observations.c.entries * literal(1.0) / observations.c.in_month),  # 1 per item and month
        ).group_by(*grouping, *([observations.c.kind] if by_kind else []))
    ).all()
    points: dict[tuple[str, str | None], list[Any]] = {}
    for month_label, day, row_currency, row_kind, total, share in rows:
        converted = rates.convert(Decimal(total), row_currency, currency, on=date.fromisoformat(day))
        if converted is None:
            continue
        point = points.setdefault((month_label, row_kind), [Decimal(0), 0.0])
        point[0] += converted
        point[1] += float(share)
    return [
        HistoryPoint(date(int(label[:4]), int(label[5:7]), 1), row_kind, cents(value), round(entries))
        for (label, row_kind), (value, entries) in sorted(points.items(), key=lambda entry: (entry[0][0],
                                                                                          entry[0][1] or ""))
    ]  # fmt: skip


@dataclass(frozen=True)
class KindValue:
    kind: str
    copies: int
    value: Decimal  # to the cent, of the priced entries
    unpriced: int  # entries without a price (or priced in a currency without a rate)
    priced: int = 0  # entries the value counts: with none, the value is unknown, not 0


@dataclass(frozen=True)
class SetValue:
    set_id: str
    name: str
    unique_cards: int
    copies: int
    value: Decimal
    printed_total: int
    set_total: int
    base_completion: float
    completion: float
    priced: int = 0  # copies the value counts: with none, the value is unknown, not 0


@dataclass(frozen=True)
class Valuation:
    """What the collection is worth in ``currency`` at the ECB rates of ``rate_date``, by kind and Pokémon set."""

    currency: str
    rate_date: date
    value: Decimal
    copies: int
    unpriced: int  # entries without a price, including the without_rate ones
    without_rate: int  # entries priced in a currency without an ECB rate
    currencies_without_rate: tuple[str, ...]
    kinds: tuple[KindValue, ...]
    sets: tuple[SetValue, ...]  # by set name

    @property
    def priced(self) -> int:
        """Entries the value counts: with none, the collection's value is unknown, not 0."""
        return sum(kind.priced for kind in self.kinds)

    def to_json(self) -> dict[str, Any]:
        """The `value --json` document (a contract: its keys never change)."""
        return {
            "totalEstimatedValue": float(self.value),
            "currency": self.currency,
            "rateDate": self.rate_date.isoformat(),
            "totalItems": self.copies,
            "itemsWithoutPrice": self.unpriced,
            "itemsWithoutRate": self.without_rate,
            "currenciesWithoutRate": list(self.currencies_without_rate),
            "byKind": {
                k.kind: {"items": k.copies, "estimatedValue": float(k.value), "itemsWithoutPrice": k.unpriced}
                for k in self.kinds
            },
            "bySet": [
                {
                    "set": {"id": s.set_id, "name": s.name},
                    "uniqueCards": s.unique_cards,
                    "totalQuantity": s.copies,
                    "estimatedValue": float(s.value),
                    "printedTotal": s.printed_total,
                    "setTotal": s.set_total,
                    "baseCompletion": s.base_completion,
                    "completion": s.completion,
                }
                for s in self.sets
            ],
        }


def valuation(
    session: Session, owner_id: int, currency: str = "EUR", rates: ExchangeRates | None = None, *, sets: bool = True
) -> Valuation:
    """Totals, by kind and (unless ``sets`` is False) by Pokémon set, each one aggregate statement, converted at
    the latest ECB rates."""
    rates = rates or current_rates()
    totals = _kind_totals(session, priced_items(owner_id), currency, rates)
    return replace(totals, sets=set_values(session, owner_id, currency, rates)) if sets else totals


def club_value(session: Session, currency: str = "EUR", rates: ExchangeRates | None = None) -> Decimal:
    """What every member's held items are worth together (the club figures): each member's total as their
    `value` shows it (the sum of its kinds, each rounded to the cent), summed, from one statement grouped by
    member, kind and price currency."""
    rates = rates or current_rates()
    priced = priced_items(None, columns=(Item.owner_id,))
    per_member_kind: dict[tuple[int, str], Decimal] = {}
    for owner_id, kind, row_currency, value in session.execute(
        select(priced.c.owner_id, priced.c.kind, priced.c.currency, func.sum(priced.c.quantity * priced.c.unit_price))
        .where(priced.c.unit_price.is_not(None))
        .group_by(priced.c.owner_id, priced.c.kind, priced.c.currency)
    ):
        converted = rates.convert(Decimal(value), row_currency, currency)
        key = (owner_id, kind)
        per_member_kind[key] = per_member_kind.get(key, Decimal(0)) + (converted or Decimal(0))
    return sum((cents(total) for total in per_member_kind.values()), Decimal(0))  # a member's total: its kinds'


def _kind_totals(session: Session, priced: Subquery, currency: str, rates: ExchangeRates) -> Valuation:
    by_kind_currency = session.execute(
        select(
            priced.c.kind,
            priced.c.currency,
            func.count(),
            func.sum(priced.c.quantity),
            func.sum(priced.c.quantity * priced.c.unit_price),
            func.sum(case((priced.c.unit_price.is_(None), 1), else_=0)),
        ).group_by(priced.c.kind, priced.c.currency)
    ).all()
    by_kind: dict[str, list[Any]] = {}  # copies, value, unpriced entries, priced entries
    without_rate = 0
    currencies_without_rate: set[str] = set()
    for kind, row_currency, entries, copies, value, without_price in sorted(by_kind_currency, key=lambda r: r[0]):
        bucket = by_kind.setdefault(kind, [0, Decimal(0), 0, 0])
        bucket[0] += int(copies or 0)
        bucket[2] += int(without_price or 0)
        if value is None:
            continue
        converted = rates.convert(Decimal(value), row_currency, currency)
        if converted is None:
            priced_entries = int(entries) - int(without_price or 0)
            bucket[2] += priced_entries
            without_rate += priced_entries
            # the price's currency, or the display currency itself (one stored before rates were checked)
            currencies_without_rate.add(row_currency if rates.per_euro(row_currency) is None else currency)
            continue
        bucket[1] += converted
        bucket[3] += int(entries) - int(without_price or 0)
    kinds = tuple(KindValue(kind, copies, cents(value), unpriced, priced)
                  for kind, (copies, value, unpriced, priced) in by_kind.items())  # fmt: skip
    return Valuation(
        currency=currency,
        rate_date=rates.rate_date,
        value=sum((kind.value for kind in kinds), Decimal(0)),  # the rows add up to it, as on the Overview
        copies=sum(kind.copies for kind in kinds),
        unpriced=sum(kind.unpriced for kind in kinds),
        without_rate=without_rate,
        currencies_without_rate=tuple(sorted(currencies_without_rate)),
        kinds=kinds,
        sets=(),
    )


def set_values(
    session: Session, owner_id: int, currency: str, rates: ExchangeRates | None = None
) -> tuple[SetValue, ...]:
    """Per Pokémon set the owner holds cards of: distinct cards, copies, value and completion, in one statement
    (value per set and price currency, joined to the distinct owned cards and the set's catalogue size)."""
    rates = rates or current_rates()
    priced = priced_items(owner_id, kinds=("card",))
    values = (
        select(priced.c.set_id, priced.c.currency, func.sum(priced.c.quantity).label("copies"),
               func.sum(priced.c.quantity * priced.c.unit_price).label("value"),
               func.sum(case((priced.c.unit_price.is_not(None), priced.c.quantity), else_=0)).label("priced"))
        .where(priced.c.set_id.is_not(None))
        .group_by(priced.c.set_id, priced.c.currency)
        .subquery("set_values")
    )  # fmt: skip
    owned = (
        select(PokemonCard.set_id, PokemonCard.id, PokemonCard.number_value)
        .where(PokemonCard.id.in_(select(Item.pokemontcg_card_id).where(
            Item.owner_id == owner_id, Item.kind == "card", Item.status.not_in(NOT_HELD_STATUSES))))
        .subquery("owned_cards")
    )  # fmt: skip
    distinct_cards = (
        select(owned.c.set_id, func.count().label("unique_cards"),
               func.sum(case((owned.c.number_value <= PokemonSet.printed_total, 1), else_=0)).label("base_cards"),
               PokemonSet.name, PokemonSet.printed_total, PokemonSet.total)
        .join(PokemonSet, PokemonSet.id == owned.c.set_id)
        .group_by(owned.c.set_id, PokemonSet.name, PokemonSet.printed_total, PokemonSet.total)
        .subquery("distinct_cards")
    )  # fmt: skip
    set_sizes = (
        select(PokemonCard.set_id, func.count().label("cards"))
        .where(PokemonCard.set_id.in_(select(owned.c.set_id)))
        .group_by(PokemonCard.set_id)
        .subquery("set_sizes")
    )
    rows = session.execute(
        select(distinct_cards, set_sizes.c.cards, values.c.currency, values.c.copies, values.c.value,
               values.c.priced)
        .join(values, values.c.set_id == distinct_cards.c.set_id)
        .outerjoin(set_sizes, set_sizes.c.set_id == distinct_cards.c.set_id)
    ).all()
    per_set: dict[str, dict[str, Any]] = {}
    for set_id, unique_cards, base_cards, name, printed, total, cards, row_currency, copies, value, counted in rows:
        bucket = per_set.setdefault(set_id, {"copies": 0, "value": Decimal(0), "priced": 0})
        set_total = cards or total or 0
        bucket.update(name=name, unique=int(unique_cards), base=int(base_cards or 0), set_total=set_total,
                      printed=printed or set_total)  # fmt: skip
        bucket["copies"] += int(copies or 0)
        converted = rates.convert(Decimal(value), row_currency, currency) if value is not None else None
        if converted is not None:  # no price, or a currency without a rate: not counted, never as 0
            bucket["value"] += converted
            bucket["priced"] += int(counted or 0)
    found = [
        SetValue(set_id, b["name"], b["unique"], b["copies"], cents(b["value"]), b["printed"], b["set_total"],
                 _ratio(b["base"], b["printed"]), _ratio(b["unique"], b["set_total"]), b["priced"])
        for set_id, b in per_set.items()
    ]  # fmt: skip
    return tuple(sorted(found, key=lambda entry: entry.name))


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def unit_prices(
    session: Session,
    owner_id: int,
    item_ids: list[int],
    currency: str,
    rates: ExchangeRates | None = None,
    *,
    kinds: Iterable[str] | None = None,
) -> dict[int, Decimal]:
    """Estimated unit price, in `currency` at the latest ECB rate, of each of the given items that has one
    (an item priced in a currency without a rate has none). Naming the items' ``kinds`` skips the others'
    price rules (a page of coins looks up coin prices only)."""
    if not item_ids:
        return {}
    rates = rates or current_rates()
    wanted = tuple(sorted(set(kinds))) if kinds is not None else None
    dialect = session.get_bind().dialect.name
    statement = _unit_price_statement(tuple(current_settings().card_price_order), wanted, dialect)
    session.flush()  # the connection's own execute does not autoflush: an edit not yet flushed must count
    rows = session.connection().execute(statement, {"unit_price_owner": owner_id, "unit_price_items": item_ids})
    converted = {
        item_id: rates.convert(Decimal(price), row_currency, currency)
        for item_id, price, row_currency in rows
        if price is not None
    }
    return {item_id: price for item_id, price in converted.items() if price is not None}


@lru_cache(maxsize=16)
def _unit_price_statement(
    _price_order: tuple[tuple[str, str], ...], kinds: tuple[str, ...] | None, dialect: str
) -> Select[Any]:
    """Built once per price order, kinds and dialect, with bound owner and ids: the Collection page and the API
    ask for a page of prices on every view, and SQLAlchemy then reuses the compiled statement without walking
    it. On PostgreSQL the ids are one array parameter (`= ANY`), not one parameter each: with fewer than 50
    parameters and under 4 kB, psycopg caches its parsing of the statement."""
    if dialect == "postgresql":
        among = Item.id == any_(bindparam("unit_price_items", type_=postgresql.ARRAY(Integer)))
    else:
        among = Item.id.in_(bindparam("unit_price_items", expanding=True))
    priced = priced_items(bindparam("unit_price_owner"), among, kinds=kinds, lean=True)
    return select(priced.c.id, priced.c.unit_price, priced.c.currency)


# ---------------------------------------------------------------------------- the user's own estimate
OWN_ESTIMATE = ("item", "manual", "", "estimate")  # ref_kind, source, variant, metric: beats every catalogue


def own_estimate(session: Session, item_id: int) -> tuple[Decimal, str] | None:
    """The user's own estimate of one item (value, currency), if they gave one."""
    ref_kind, source, variant, metric = OWN_ESTIMATE
    row = session.execute(
        select(LatestPrice.value, LatestPrice.currency).where(
            LatestPrice.ref_kind == ref_kind, LatestPrice.ref_id == str(item_id), LatestPrice.source == source,
            LatestPrice.variant == variant, LatestPrice.metric == metric,
        )
    ).first()  # fmt: skip
    return (Decimal(row[0]), row[1]) if row is not None else None


def set_own_estimate(session: Session, item_id: int, value: Decimal | None, currency: str) -> None:
    """Record the user's own estimate of an item (kept in the price history); None withdraws it, so the
    catalogue prices count again. The caller has checked that the item is the acting owner's."""
    ref_kind, source, variant, metric = OWN_ESTIMATE
    if value is None:
        session.execute(
            delete(LatestPrice).where(
                LatestPrice.ref_kind == ref_kind, LatestPrice.ref_id == str(item_id), LatestPrice.source == source,
                LatestPrice.variant == variant, LatestPrice.metric == metric,
            )
        )  # fmt: skip
        return
    amount, code = check_money(value, name="own estimate"), check_currency(currency, name="estimate currency")
    if amount is None or code is None:
        raise InvalidInput("An own estimate needs its currency, a three-letter code such as EUR.",
                           code="INVALID_CURRENCY")  # fmt: skip
    record_observations(session, [Observation(ref_kind, str(item_id), source, variant, metric, code, amount)])
