"""Price observations (a time series per catalogue reference) and valuation of a user's collection.

Every source only says what a thing is worth *now*; keeping each observation is what makes value history
possible. `latest_prices` holds the newest observation per key so valuing 100,000 items is index lookups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, String, and_, case, cast, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from services.card_prices import CARDMARKET_CARD_PRINTINGS
from services.config import current_settings
from services.errors import InvalidInput
from services.exchange_rates import ExchangeRates, current_rates
from services.states import NOT_HELD_STATUSES
from services.store.models import (
    DiscogsRelease,
    Item,
    LatestPrice,
    PokemonCard,
    PokemonSet,
    PriceObservation,
    table_of,
    utcnow,
)
from services.validation import MONEY_MAX, QUANTITY_MAX, QUANTITY_MIN

# The sources price in USD (TCGplayer), EUR (Cardmarket) or the requested currency (Numista, the user's
# own); services/exchange_rates.py converts with the ECB reference rates. An amount in a currency without
# a rate is unpriced (counted in itemsWithoutPrice and itemsWithoutRate), never taken 1:1.
CENT = Decimal("0.01")
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
    cardmarket_variant = case(
        (printing == "reverseHolofoil", literal("reverseHolofoil")),
        (printing.in_(CARDMARKET_CARD_PRINTINGS), literal("")),
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
            ("pokemontcg", Item.pokemontcg_card_id, "demo", printing, "market"),
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


def priced_items_query(owner_id: int) -> Select[Any]:
    """One row per held item of the owner: id, kind, title, quantity, Pokémon set, the unit price, its
    currency, and the key of the price chosen (so value history can follow the same series)."""
    base = _priced_items(tuple(current_settings().card_price_order))
    return base.where(Item.owner_id == owner_id, Item.status.not_in(NOT_HELD_STATUSES))


@lru_cache(maxsize=8)
def _priced_items(_price_order: tuple[tuple[str, str], ...]) -> Select[Any]:
    """The owner-independent part of priced_items_query, built once per price order: building its dozen
    aliased joins costs more than running it for a page of items (a Select is immutable, so sharing is safe)."""
    joins = []
    chosen: dict[str, list[tuple[Any, Any]]] = {name: [] for name in ("value", "currency", *PRICE_KEY)}
    for kind, candidates in _candidates().items():
        for ref_kind, ref_expr, source, variant_expr, metric in candidates:
            price = aliased(LatestPrice)
            joins.append(
                (
                    price,
                    and_(
                        Item.kind == kind,
                        price.ref_kind == ref_kind,
                        price.ref_id == ref_expr,
                        price.source == source,
                        price.variant == variant_expr,
                        price.metric == metric,
                    ),
                )
            )
            found = price.value.between(0, MONEY_MAX)  # a stored out-of-range price reads as no price
            for name in chosen:
                chosen[name].append((found, getattr(price, name)))
    # A quantity stored before the ranges were checked (services/validation.py) counts as 1: never an overflow.
    quantity = case((Item.quantity.between(QUANTITY_MIN, QUANTITY_MAX), Item.quantity), else_=1).label("quantity")
    query = select(Item.id, Item.kind, Item.title, quantity, PokemonCard.set_id).add_columns(
        case(*chosen.pop("value"), else_=None).label("unit_price"),
        *(case(*whens, else_=None).label(name) for name, whens in chosen.items()),
    )
    query = query.select_from(Item).outerjoin(PokemonCard, PokemonCard.id == Item.pokemontcg_card_id)
    for alias, condition in joins:
        query = query.outerjoin(alias, condition)
    return query


def _month(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _day(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return func.to_char(column, "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def value_history(
    session: Session, owner_id: int, currency: str = "EUR", rates: ExchangeRates | None = None
) -> list[dict[str, Any]]:
    """Estimated value per month, following each item's chosen price series back in time.

    A month counts each item at the average of its observations in that month, each observation
    converted at the ECB rate of its own day; an item with no observation in a month is absent from it
    (so early months of a new collection read low), and so is one priced in a currency without a rate.
    SQL sums, per day and currency, quantity × value / (the item's observations that month), so the
    rows returned are bounded by days × currencies, not by items.
    """
    rates = rates or current_rates()
    dialect = session.get_bind().dialect.name
    priced = priced_items_query(owner_id).subquery()
    month_of = _month(PriceObservation.observed_at, dialect)
    observations = (
        select(
            month_of.label("month"),
            _day(PriceObservation.observed_at, dialect).label("day"),
            PriceObservation.currency,
            (priced.c.quantity * PriceObservation.value).label("line"),
            func.count()
            .over(partition_by=(priced.c.id, month_of, PriceObservation.currency))
            .label("in_month"),
        )
        .select_from(priced)
        .join(
            PriceObservation,
            and_(*(getattr(PriceObservation, name) == priced.c[name] for name in PRICE_KEY)),
        )
        .subquery()
    )
    rows = session.execute(
        select(
            observations.c.month,
            observations.c.day,
            observations.c.currency,
            func.sum(observations.c.line / observations.c.in_month),
            func.sum(literal(1.0) / observations.c.in_month),  # adds up to 1 per item and month
        )
        .group_by(observations.c.month, observations.c.day, observations.c.currency)
        .order_by(observations.c.month)
    ).all()
    months: dict[str, dict[str, Any]] = {}
    for month_label, day, row_currency, total, share in rows:
        converted = rates.convert(Decimal(total), row_currency, currency, on=date.fromisoformat(day))
        if converted is None:
            continue
        bucket = months.setdefault(month_label, {"month": month_label, "estimatedValue": Decimal(0), "entries": 0.0})
        bucket["estimatedValue"] += converted
        bucket["entries"] += float(share)
    return [
        {**m, "estimatedValue": _money(m["estimatedValue"]), "entries": round(m["entries"])}
        for m in months.values()
    ]


def valuation(
    session: Session, owner_id: int, currency: str = "EUR", rates: ExchangeRates | None = None
) -> dict[str, Any]:
    """The `value --json` document: totals, by kind and by Pokémon set (aggregated in SQL), converted at
    the latest ECB rates (`rateDate`)."""
    rates = rates or current_rates()
    priced = priced_items_query(owner_id).subquery()
    line_value = priced.c.quantity * priced.c.unit_price
    by_kind_currency = session.execute(
        select(
            priced.c.kind,
            priced.c.currency,
            func.count(),
            func.sum(priced.c.quantity),
            func.sum(line_value),
            func.sum(case((priced.c.unit_price.is_(None), 1), else_=0)),
        ).group_by(priced.c.kind, priced.c.currency)
    ).all()
    by_kind: dict[str, dict[str, Any]] = {}
    total_value = Decimal(0)
    total_copies = 0
    unpriced = without_rate = 0
    currencies_without_rate: set[str] = set()
    for kind, row_currency, entries, copies, value, without_price in by_kind_currency:
        bucket = by_kind.setdefault(kind, {"items": 0, "estimatedValue": Decimal(0), "itemsWithoutPrice": 0})
        bucket["items"] += int(copies or 0)
        bucket["itemsWithoutPrice"] += int(without_price or 0)
        total_copies += int(copies or 0)
        unpriced += int(without_price or 0)
        if value is None:
            continue
        converted = rates.convert(Decimal(value), row_currency, currency)
        if converted is None:
            priced_entries = int(entries) - int(without_price or 0)
            unpriced += priced_entries
            bucket["itemsWithoutPrice"] += priced_entries
            without_rate += priced_entries
            # the price's currency, or the display currency itself (one stored before rates were checked)
            currencies_without_rate.add(row_currency if rates.per_euro(row_currency) is None else currency)
            continue
        bucket["estimatedValue"] += converted
        total_value += converted
    return {
        "totalEstimatedValue": _money(total_value),
        "currency": currency,
        "rateDate": rates.rate_date.isoformat(),
        "totalItems": total_copies,
        "itemsWithoutPrice": unpriced,
        "itemsWithoutRate": without_rate,
        "currenciesWithoutRate": sorted(currencies_without_rate),
        "byKind": {
            k: {
                "items": v["items"],
                "estimatedValue": _money(v["estimatedValue"]),
                "itemsWithoutPrice": v["itemsWithoutPrice"],
            }
            for k, v in by_kind.items()
        },
        "bySet": _by_set(session, owner_id, priced, currency, rates),
    }


def _by_set(
    session: Session, owner_id: int, priced: Any, currency: str, rates: ExchangeRates
) -> list[dict[str, Any]]:
    owned = (
        select(
            priced.c.set_id,
            priced.c.currency,
            func.count(func.distinct(priced.c.id)).label("entries"),
            func.sum(priced.c.quantity).label("copies"),
            func.sum(priced.c.quantity * priced.c.unit_price).label("value"),
        )
        .where(priced.c.set_id.is_not(None))
        .group_by(priced.c.set_id, priced.c.currency)
    )
    per_set: dict[str, dict[str, Any]] = {}
    for set_id, row_currency, _entries, copies, value in session.execute(owned):
        bucket = per_set.setdefault(set_id, {"copies": 0, "value": Decimal(0)})
        bucket["copies"] += int(copies or 0)
        if value is not None:
            bucket["value"] += rates.convert(Decimal(value), row_currency, currency) or Decimal(0)
    if not per_set:
        return []
    owned_cards = select(Item.pokemontcg_card_id).where(
        Item.owner_id == owner_id, Item.kind == "card", Item.status.not_in(NOT_HELD_STATUSES)
    )
    distinct_cards = (
        select(
            PokemonCard.set_id,
            func.count(PokemonCard.id),
            func.sum(case((PokemonCard.number_value <= PokemonSet.printed_total, 1), else_=0)),
        )
        .join(PokemonSet, PokemonSet.id == PokemonCard.set_id)
        .where(PokemonCard.id.in_(owned_cards))
        .group_by(PokemonCard.set_id)
    )
    card_counts = dict(
        session.execute(
            select(PokemonCard.set_id, func.count())
            .where(PokemonCard.set_id.in_(per_set))
            .group_by(PokemonCard.set_id)
        ).all()
    )
    result = []
    sets = {s.id: s for s in session.scalars(select(PokemonSet).where(PokemonSet.id.in_(per_set)))}
    for set_id, unique_cards, base_cards in session.execute(distinct_cards):
        base_cards = int(base_cards or 0)
        card_set = sets[set_id]
        set_total = card_counts.get(set_id) or card_set.total or 0
        printed_total = card_set.printed_total or set_total
        result.append(
            {
                "set": {"id": set_id, "name": card_set.name},
                "uniqueCards": unique_cards,
                "totalQuantity": per_set[set_id]["copies"],
                "estimatedValue": _money(per_set[set_id]["value"]),
                "printedTotal": printed_total,
                "setTotal": set_total,
                "baseCompletion": _ratio(base_cards, printed_total),
                "completion": _ratio(unique_cards, set_total),
            }
        )
    return sorted(result, key=lambda entry: entry["set"]["name"])


def _money(amount: Decimal) -> float:
    return float(amount.quantize(CENT, rounding=ROUND_HALF_UP))


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def unit_prices(
    session: Session, owner_id: int, item_ids: list[int], currency: str, rates: ExchangeRates | None = None
) -> dict[int, Decimal]:
    """Estimated unit price, in `currency` at the latest ECB rate, of each of the given items that has one
    (an item priced in a currency without a rate has none)."""
    if not item_ids:
        return {}
    rates = rates or current_rates()
    priced = priced_items_query(owner_id).where(Item.id.in_(item_ids)).subquery()
    rows = session.execute(select(priced.c.id, priced.c.unit_price, priced.c.currency))
    converted = {
        item_id: rates.convert(Decimal(price), row_currency, currency)
        for item_id, price, row_currency in rows
        if price is not None
    }
    return {item_id: price for item_id, price in converted.items() if price is not None}


def value_by(
    session: Session, owner_id: int, kind: str, group: str, currency: str, rates: ExchangeRates | None = None
) -> list[dict[str, Any]]:
    """Copies and estimated value of one kind of item grouped by an item column (e.g. coins by country)."""
    rates = rates or current_rates()
    columns = {
        "country": Item.country, "series": Item.series, "year": Item.year,
        "label": Item.series,  # a record's series is its (first) label
        "artist": select(DiscogsRelease.artist).where(DiscogsRelease.id == Item.discogs_release_id)
        .correlate(Item).scalar_subquery(),  # records: the artist of the cached release
    }  # fmt: skip
    column = columns[group]
    priced = priced_items_query(owner_id).add_columns(column.label("grp")).where(Item.kind == kind).subquery()
    rows = session.execute(
        select(
            priced.c.grp,
            priced.c.currency,
            func.sum(priced.c.quantity),
            func.sum(priced.c.quantity * priced.c.unit_price),
        ).group_by(priced.c.grp, priced.c.currency)
    )
    groups: dict[Any, dict[str, Any]] = {}
    for name, row_currency, copies, value in rows:
        bucket = groups.setdefault(name, {group: name, "copies": 0, "estimatedValue": Decimal(0)})
        bucket["copies"] += int(copies or 0)
        if value is not None:
            bucket["estimatedValue"] += rates.convert(Decimal(value), row_currency, currency) or Decimal(0)
    ordered = sorted(groups.values(), key=lambda g: g["estimatedValue"], reverse=True)
    return [{**g, "estimatedValue": _money(g["estimatedValue"])} for g in ordered]


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
    if value < 0:
        raise InvalidInput("An estimate cannot be negative.", code="INVALID_PRICE")
    record_observations(session, [Observation(ref_kind, str(item_id), source, variant, metric, currency.upper(),
                                              value.quantize(Decimal("0.01")))])  # fmt: skip
