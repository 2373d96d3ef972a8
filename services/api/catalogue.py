"""Catalogue endpoints: cards (search, one card, autocomplete), sets, card conditions.

Searches go through the same in-process index as the Catalog page and `catalog search pokemon`
(services.integrations.pokemontcg.search); card details, prices and sets come from the stored catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, overload

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.orm import Session

from services.api.framework import ApiError, Call, Operation
from services.api.schemas import (
    ApiWarning,
    AutocompleteQuery,
    Card,
    CardQuery,
    CardQueryOne,
    CardSet,
    CardSort,
    Condition,
    DataList,
    Images,
    MarketPrice,
    Page,
    PageMeta,
    PricePoint,
    Rarity,
    SetQuery,
    SetRef,
    SortOrder,
    Suggestion,
)
from services.config import current_settings
from services.integrations.pokemontcg.catalog import ensure_offline_catalogue
from services.integrations.pokemontcg.search import CardFilter, CardIndex, card_index
from services.states import CARD_CONDITIONS, CARD_PRINTINGS
from services.store.models import LatestPrice, PokemonCard, PokemonSet, PriceObservation, utcnow
from services.store.models_cards import CatalogSyncState
from services.text import normalize

CONDITION_NAMES = {
    "NM": "Near Mint",
    "LP": "Lightly Played",
    "MP": "Moderately Played",
    "HP": "Heavily Played",
    "DMG": "Damaged",
}
DEFAULT_CONDITION = "NM"
_HISTORY_LIMIT = 500


class CardPage(Page[Card]):
    pass


class SetPage(Page[CardSet]):
    pass


class SuggestionList(DataList[Suggestion]):
    pass


class ConditionList(DataList[Condition]):
    pass


def rarity_id(name: str) -> str:
    return normalize(name).replace(" ", "-")


def set_ref(card_set: PokemonSet) -> SetRef:
    return SetRef(id=card_set.id, name=card_set.name, series=card_set.series, releaseDate=card_set.release_date)


# A card's set in a plain row (read with SET_COLUMNS, turned into its reference by row_set_ref).
SET_COLUMNS = (
    PokemonSet.id.label("set_id"),
    PokemonSet.name.label("set_name"),
    PokemonSet.series.label("set_series"),
    PokemonSet.release_date.label("set_release_date"),
)


def row_set_ref(row: Row[*tuple[Any, ...]]) -> SetRef:
    return SetRef(id=row.set_id, name=row.set_name, series=row.set_series, releaseDate=row.set_release_date)


@overload
def aware(moment: datetime) -> datetime: ...
@overload
def aware(moment: None) -> None: ...
@overload
def aware(moment: datetime | None) -> datetime | None: ...
def aware(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes from timezone-aware columns; they were written in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=utcnow().tzinfo)


# Built once (the ids bound at execution): on the request path, constructing a statement cost more than running it.
# These plain-row reads go through the session's connection: the ORM's result machinery costs a quarter of them.
_LATEST_PRICES = select(
    LatestPrice.ref_id,
    LatestPrice.source,
    LatestPrice.metric,
    LatestPrice.variant,
    LatestPrice.value,
    LatestPrice.currency,
    LatestPrice.observed_at,
).where(LatestPrice.ref_kind == "pokemontcg", LatestPrice.ref_id.in_(bindparam("card_ids", expanding=True)))


def market_prices(session: Session, card_ids: Sequence[str]) -> dict[str, MarketPrice]:
    """The price a collector would quote for each card: the valuation's price order (VITRINE_CARD_PRICE_ORDER),
    on the card's first priced printing (normal, holofoil, ...)."""
    if not card_ids:
        return {}
    rows = session.connection().execute(_LATEST_PRICES, {"card_ids": list(card_ids)})
    found: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for card_id, source, metric, variant, value, currency, observed in rows:
        found.setdefault(card_id, {}).setdefault((source, metric), {})[variant] = (value, currency, observed)
    order = [*current_settings().card_price_order, ("demo", "market")]
    variant_rank = {variant: i for i, variant in enumerate(("", *CARD_PRINTINGS))}
    prices: dict[str, MarketPrice] = {}
    for card_id, series in found.items():
        for key in order:
            variants = series.get(key)
            if variants:
                best = min(variants, key=lambda v: (variant_rank.get(v, 99), v))
                value, currency, observed = variants[best]
                prices[card_id] = MarketPrice(
                    amount=float(value), currency=currency, source=key[0], lastSeenAt=aware(observed)
                )
                break
    return prices


# A card's columns and its set's, read as plain rows (loading ORM objects cost more than the statement), for the
# ids bound at execution.
_CARD_ROWS = select(
    PokemonCard.id, PokemonCard.name, PokemonCard.number, PokemonCard.number_sort, PokemonCard.rarity,
    PokemonCard.supertype, PokemonCard.subtypes, PokemonCard.types, PokemonCard.image_small,
    PokemonCard.image_large, PokemonCard.expires_at, *SET_COLUMNS,
).join(PokemonSet, PokemonSet.id == PokemonCard.set_id).where(
    PokemonCard.id.in_(bindparam("card_ids", expanding=True))
)  # fmt: skip


def card_documents(session: Session, card_ids: Sequence[str]) -> tuple[list[Card], datetime | None]:
    """Cards in the given order, and the earliest cache expiry among them."""
    rows = {row.id: row for row in session.connection().execute(_CARD_ROWS, {"card_ids": list(card_ids)})}
    prices = market_prices(session, card_ids)
    cards: list[Card] = []
    expiries: list[datetime] = []
    for card_id in card_ids:
        card = rows.get(card_id)
        if card is None:  # deleted between the index read and this one
            continue
        if card.expires_at is not None:
            expiries.append(aware(card.expires_at))
        cards.append(
            Card(
                id=card.id,
                externalId=card.id,
                name=card.name,
                cardNumber=card.number,
                numberSort=card.number_sort,
                set=row_set_ref(card),
                rarity=Rarity(id=rarity_id(card.rarity), name=card.rarity) if card.rarity else None,
                supertype=card.supertype,
                subtypes=list(card.subtypes or ()),
                types=list(card.types or ()),
                images=Images(small=card.image_small, large=card.image_large),
                marketPrice=prices.get(card.id),
            )
        )
    return cards, min(expiries, default=None)


def stale_warnings(expires_at: datetime | None) -> list[ApiWarning]:
    if expires_at is not None and expires_at < utcnow():
        return [
            ApiWarning(
                code="STALE_CATALOGUE",
                message=f"Catalogue data expired at {expires_at:%Y-%m-%d %H:%M} UTC; "
                "it is served as stored until the next catalogue sync.",
            )
        ]
    return []


def page_meta(page: int, page_size: int, total: int, expires_at: datetime | None) -> PageMeta:
    return PageMeta(
        page=page,
        pageSize=page_size,
        totalPages=max(1, -(-total // page_size)),
        totalItems=total,
        cacheExpiresAt=expires_at,
    )


NO_SET = "\x00"  # a set id no catalogue has: the filter then matches nothing


def _unknown(field: str, value: str, what: str) -> ApiWarning:
    return ApiWarning(
        code="UNKNOWN_FILTER_VALUE", message=f"{field}: no {what} {value!r} in the catalogue, so no card matches."
    )


def _filters(session: Session, index: CardIndex, query: CardQuery) -> tuple[CardFilter, list[ApiWarning]]:
    """The search filter of a query, and a warning per filter value the catalogue does not know (such a filter
    matches nothing, as a database filter would, instead of failing the request)."""
    warnings: list[ApiWarning] = []
    set_id = query.setId
    if set_id is not None and set_id not in index.set_range:
        warnings.append(_unknown("setId", set_id, "set"))
        set_id = NO_SET
    if query.setExternalId:
        external = query.setExternalId.casefold()
        found = session.scalar(
            select(PokemonSet.id).where(func.lower(PokemonSet.ptcgo_code) == external).order_by(PokemonSet.id)
        )
        if found is None and query.setExternalId in index.set_range:
            found = query.setExternalId  # the pokemontcg.io id is an external id too
        if found is None:
            warnings.append(_unknown("setExternalId", query.setExternalId, "set"))
        set_id = found if found is not None and set_id in (None, found) else NO_SET
    rarity = None
    if query.rarityId:
        rarities = {rarity_id(name): name for name in index.rarities_list()}
        rarity = rarities.get(rarity_id(query.rarityId))
        if rarity is None:
            warnings.append(_unknown("rarityId", query.rarityId, "rarity"))
            rarity = NO_SET
    if query.type and query.type.casefold() not in {t.casefold() for t in index.types_list()}:
        warnings.append(_unknown("type", query.type, "type"))
    return CardFilter(set_id=set_id, number=query.cardNumber, rarity=rarity, type=query.type), warnings


def catalogue_index(session: Session) -> CardIndex:
    """The search index of the catalogue, the shipped snapshot loaded first when there is no card at all; asking
    the index first spares a card read per request (its revision check is needed anyway)."""
    index = card_index(session)
    if index.size == 0 and ensure_offline_catalogue(session):
        index = card_index(session)
    return index


def list_cards(call: Call) -> CardPage:
    query: CardQuery = call.query
    index = catalogue_index(call.session)
    filters, warnings = _filters(call.session, index, query)
    text = (query.q or "").strip()
    sort = query.sort or (None if text else CardSort.set)
    positions: Sequence[int] = index.matches(text, filters, sort="number" if sort is CardSort.set else "relevance")
    if sort is CardSort.name:
        names = index.names
        positions = sorted(positions, key=lambda i: (normalize(names[i]), i))
    elif sort is CardSort.number:
        keys = index.number_keys
        positions = sorted(positions, key=lambda i: (keys[i], i))
    if query.order is SortOrder.desc:
        positions = positions[::-1]
    start = (query.page - 1) * query.pageSize
    chosen = [index.ids[i] for i in positions[start : start + query.pageSize]]
    cards, expires_at = card_documents(call.session, chosen)
    return CardPage(
        data=cards,
        meta=page_meta(query.page, query.pageSize, len(positions), expires_at),
        warnings=warnings + stale_warnings(expires_at),
    )


class CardDetail(Card):
    warnings: list[ApiWarning] = []


def get_card(call: Call) -> CardDetail:
    query: CardQueryOne = call.query
    card_id = call.path["cardId"]
    if query.externalId:
        index = catalogue_index(call.session)
        position = index.position_of_id.get(card_id.casefold())
        card_id = index.ids[position] if position is not None else card_id
    else:
        ensure_offline_catalogue(call.session)
    cards, expires_at = card_documents(call.session, [card_id])
    if not cards:
        raise ApiError(404, "CARD_NOT_FOUND", f"No card {card_id!r} in the catalogue.")
    card = cards[0]
    if query.includePriceHistory:
        card.priceHistory = price_history(call.session, card.id)
    return CardDetail(**card.__dict__, warnings=stale_warnings(expires_at))


def price_history(session: Session, card_id: str) -> list[PricePoint]:
    rows = session.execute(
        select(
            PriceObservation.source,
            PriceObservation.variant,
            PriceObservation.metric,
            PriceObservation.value,
            PriceObservation.currency,
            PriceObservation.observed_at,
        )
        .where(PriceObservation.ref_kind == "pokemontcg", PriceObservation.ref_id == card_id)
        .order_by(PriceObservation.observed_at.desc(), PriceObservation.id.desc())
        .limit(_HISTORY_LIMIT)
    )
    return [
        PricePoint(
            source=source,
            printing=variant or "(card)",
            metric=metric,
            amount=float(value),
            currency=currency,
            observedAt=aware(observed),
        )
        for source, variant, metric, value, currency, observed in rows
    ]


def autocomplete(call: Call) -> SuggestionList:
    """Cards whose names match `q` best first (the same ranking as the search); fewer than 2 characters is 400
    QUERY_TOO_SHORT, and a `q` with fewer than 2 letters or digits ("!!") suggests nothing."""
    query: AutocompleteQuery = call.query
    index = catalogue_index(call.session)
    warnings = []
    set_id = query.setId
    if set_id is not None and set_id not in index.set_range:
        warnings.append(_unknown("setId", set_id, "set"))
        set_id = NO_SET
    positions = index.matches(query.q, CardFilter(set_id=set_id))[: query.limit] if len(normalize(query.q)) >= 2 else []
    sets = {
        s.id: s
        for s in call.session.scalars(
            select(PokemonSet).where(PokemonSet.id.in_({index.set_ids[i] for i in positions}))
        )
    }
    return SuggestionList(
        data=[
            Suggestion(
                cardId=index.ids[i],
                name=index.names[i],
                cardNumber=index.numbers[i],
                set=set_ref(sets[index.set_ids[i]]),
                image=index.images[i],
            )
            for i in positions
        ],
        warnings=warnings,
    )


def _set_documents(session: Session, sets: Iterable[PokemonSet]) -> list[CardSet]:
    sets = list(sets)
    ids = [s.id for s in sets]
    cached = dict(
        session.execute(
            select(PokemonCard.set_id, func.count()).where(PokemonCard.set_id.in_(ids)).group_by(PokemonCard.set_id)
        ).all()
    )
    states = {
        state.key.removeprefix("set:"): state
        for state in session.scalars(
            select(CatalogSyncState).where(
                CatalogSyncState.source == "pokemontcg", CatalogSyncState.key.in_([f"set:{i}" for i in ids])
            )
        )
    }
    documents = []
    for card_set in sets:
        state = states.get(card_set.id)
        documents.append(
            CardSet(
                id=card_set.id,
                externalId=card_set.ptcgo_code,
                name=card_set.name,
                series=card_set.series,
                releaseDate=card_set.release_date,
                printedTotal=card_set.printed_total,
                totalCards=card_set.total,
                cachedCards=cached.get(card_set.id, 0),
                images={"symbol": card_set.symbol_url, "logo": card_set.logo_url},
                lastSyncAt=aware(state.fetched_at if state else card_set.fetched_at),
                cacheExpiresAt=aware(state.expires_at if state and state.expires_at else card_set.expires_at),
            )
        )
    return documents


def list_sets(call: Call) -> SetPage:
    query: SetQuery = call.query
    ensure_offline_catalogue(call.session)
    total = call.session.scalar(select(func.count()).select_from(PokemonSet)) or 0
    sets = call.session.scalars(
        select(PokemonSet)
        .order_by(PokemonSet.release_date.desc(), PokemonSet.id)
        .offset((query.page - 1) * query.pageSize)
        .limit(query.pageSize)
    )
    documents = _set_documents(call.session, sets)
    expires_at = min((d.cacheExpiresAt for d in documents if d.cacheExpiresAt), default=None)
    return SetPage(
        data=documents,
        meta=page_meta(query.page, query.pageSize, total, expires_at),
        warnings=stale_warnings(expires_at),
    )


class SetDetail(CardSet):
    warnings: list[ApiWarning] = []


def get_set(call: Call) -> SetDetail:
    ensure_offline_catalogue(call.session)
    card_set = call.session.get(PokemonSet, call.path["setId"])
    if card_set is None:
        raise ApiError(404, "SET_NOT_FOUND", f"No set {call.path['setId']!r} in the catalogue.")
    document = _set_documents(call.session, [card_set])[0]
    return SetDetail(**document.__dict__, warnings=stale_warnings(document.cacheExpiresAt))


def card_conditions(_call: Call) -> ConditionList:
    return ConditionList(
        data=[
            Condition(code=code, name=CONDITION_NAMES[code], sortOrder=rank, isDefault=code == DEFAULT_CONDITION)
            for rank, code in enumerate(CARD_CONDITIONS, start=1)
        ]
    )


_CARD_ERRORS: dict[int, tuple[str, ...]] = {400: ("INVALID_FILTER",)}
OPERATIONS = [
    Operation(
        "GET",
        "/api/cards",
        list_cards,
        "Search the card catalogue",
        CardPage,
        "catalogue",
        "catalogue",
        query=CardQuery,
        errors=_CARD_ERRORS,
        invalid_code="INVALID_FILTER",
    ),
    Operation(
        "GET",
        "/api/cards/autocomplete",
        autocomplete,
        "Card name suggestions",
        SuggestionList,
        "catalogue",
        "catalogue",
        query=AutocompleteQuery,
        errors={400: ("QUERY_TOO_SHORT", "INVALID_FILTER")},
        invalid_code="INVALID_FILTER",
        field_codes={"q:string_too_short": "QUERY_TOO_SHORT", "q:missing": "QUERY_TOO_SHORT"},
    ),
    Operation(
        "GET",
        "/api/cards/{cardId}",
        get_card,
        "One card",
        CardDetail,
        "catalogue",
        "catalogue",
        query=CardQueryOne,
        errors={404: ("CARD_NOT_FOUND",)},
        path_params=("cardId",),
    ),
    Operation(
        "GET", "/api/sets", list_sets, "Card sets, newest first", SetPage, "catalogue", "catalogue", query=SetQuery
    ),
    Operation(
        "GET",
        "/api/sets/{setId}",
        get_set,
        "One set with cached and total card counts",
        SetDetail,
        "catalogue",
        "catalogue",
        errors={404: ("SET_NOT_FOUND",)},
        path_params=("setId",),
    ),
    Operation(
        "GET",
        "/api/card-conditions",
        card_conditions,
        "Card conditions, best first",
        ConditionList,
        "catalogue",
        "catalogue",
    ),
]
