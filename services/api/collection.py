"""Collection endpoints: the member's card entries (list, add, edit, delete), per-set summary, value, profile.

Every read and write goes through services.collection and services.pricing with the token's member as owner,
so another member's entry id answers 404 exactly like an id that does not exist. The values are the ones
`value --json` and the Overview show (services.pricing.valuation).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from services.api.catalogue import SET_COLUMNS, aware, page_meta, row_set_ref
from services.api.framework import ApiError, Call, Operation, Reply
from services.api.schemas import (
    Activity,
    CardSummary,
    CollectionSummary,
    CollectionValue,
    Deleted,
    Entry,
    EntryChange,
    EntryCreate,
    EntryQuery,
    EntryUpdate,
    ItemOut,
    Member,
    Money,
    Page,
    ProfileSummary,
    SetRef,
    SetSummary,
    SummaryMeta,
)
from services.collection import ItemFilter, add_card, delete_item, get_item, page_of_rows
from services.collection import update_item as update_service_item
from services.errors import Conflict, InvalidInput, NotFound
from services.pricing import KindValue, SetValue, Valuation, set_values, unit_prices, valuation
from services.store.models import Item, LatestPrice, PokemonCard, PokemonSet, User

_TOP_SETS = 5
_RECENT = 10


class EntryPage(Page[Entry]):
    pass


def _currency(call: Call) -> str:
    return call.owner.currency or call.context.settings.currency


# One entry's columns and its card's (outer joins: an entry may name a card the catalogue lacks), read as plain
# rows: loading ORM objects for a page of entries cost more than its statements.
_ENTRY_ROWS = (
    select(
        Item.id, Item.pokemontcg_card_id, Item.quantity, Item.grade_code, Item.grade, Item.printing, Item.language,
        Item.acquired_date, Item.acquired_price, Item.acquired_currency, Item.notes, Item.created_at,
        Item.updated_at, Item.version, PokemonCard.id.label("card_id"), PokemonCard.name.label("card_name"),
        PokemonCard.number.label("card_number"), PokemonCard.image_small.label("card_image"), *SET_COLUMNS,
    )
    .select_from(Item)
    .outerjoin(PokemonCard, PokemonCard.id == Item.pokemontcg_card_id)
    .outerjoin(PokemonSet, PokemonSet.id == PokemonCard.set_id)
)  # fmt: skip


def entry_documents(
    session: Session, owner_id: int, rows: Sequence[Row[*tuple[Any, ...]]], currency: str
) -> list[Entry]:
    """The documents of entries read with _ENTRY_ROWS, with their unit values (one statement for all)."""
    prices = unit_prices(session, owner_id, [row.id for row in rows], currency, kinds=("card",))
    documents = []
    for row in rows:
        price = prices.get(row.id)
        documents.append(
            Entry(
                id=row.id,
                cardId=row.pokemontcg_card_id,
                card=CardSummary(
                    id=row.card_id,
                    name=row.card_name,
                    cardNumber=row.card_number,
                    set=row_set_ref(row),
                    image=row.card_image,
                )
                if row.card_id is not None
                else None,
                quantity=row.quantity,
                conditionCode=row.grade_code or row.grade,
                printing=row.printing,
                language=row.language,
                acquiredAt=row.acquired_date,
                purchasePrice=Money(amount=float(row.acquired_price), currency=row.acquired_currency or currency)
                if row.acquired_price is not None
                else None,
                notes=row.notes,
                estimatedUnitValue=Money(amount=float(round(price, 2)), currency=currency)
                if price is not None
                else None,
                createdAt=aware(row.created_at),
                updatedAt=aware(row.updated_at),
                version=row.version,
            )
        )
    return documents


def entry_document(session: Session, owner_id: int, item_id: int, currency: str) -> Entry:
    """One of the owner's entries as its document, as the transaction sees it now."""
    rows = session.execute(_ENTRY_ROWS.where(Item.owner_id == owner_id, Item.id == item_id)).all()
    return entry_documents(session, owner_id, rows, currency)[0]


def validators(entry: Entry | ItemOut) -> dict[str, str]:
    """ETag (exact: the row version) and Last-Modified (HTTP dates have one-second resolution)."""
    return {"ETag": f'"v{entry.version}"', "Last-Modified": format_datetime(entry.updatedAt, usegmt=True)}


def _card_entry(call: Call) -> Item:
    raw = call.path["entryId"]
    try:
        item = (
            get_item(call.session, call.owner.user_id, int(raw))
            if raw.isascii() and raw.isdigit() and len(raw) < 12
            else None
        )
    except NotFound:
        item = None
    if item is None or item.kind != "card":
        raise ApiError(404, "ENTRY_NOT_FOUND", f"No entry {raw} in your collection.")
    return item


def check_preconditions(call: Call, item: Item) -> None:
    """If-Match (ETag "v<version>") and If-Unmodified-Since: refuse an edit based on an outdated read (412)."""
    if_match = call.headers.get("if-match")
    if if_match is not None and if_match.strip() != "*":
        wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
        if f'"v{item.version}"' not in wanted:
            raise ApiError(
                412,
                "PRECONDITION_FAILED",
                "The entry changed since you read it (ETag mismatch); read it again and reapply your change.",
                {"currentVersion": item.version},
            )
    since = call.headers.get("if-unmodified-since")
    if since is not None:
        try:
            moment = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            moment = None  # RFC 9110: an invalid date is ignored
        if moment is not None and moment.tzinfo is not None:
            modified = aware(item.updated_at).replace(microsecond=0)
            if modified > moment:
                raise ApiError(
                    412,
                    "PRECONDITION_FAILED",
                    f"The entry changed at {format_datetime(modified, True)},"
                    " after your copy; read it again and reapply your change.",
                    {"lastModified": modified.isoformat()},
                )


def _unit_value(session: Session, owner_id: int, item_id: int, currency: str) -> Decimal:
    return unit_prices(session, owner_id, [item_id], currency).get(item_id, Decimal(0))


def list_entries(call: Call) -> EntryPage:
    query: EntryQuery = call.query
    filters = ItemFilter(kind="card", set_id=query.setId, text=query.q)
    rows, total = page_of_rows(
        call.session,
        call.owner.user_id,
        filters,
        _ENTRY_ROWS,
        limit=query.pageSize,
        offset=(query.page - 1) * query.pageSize,
    )
    data = entry_documents(call.session, call.owner.user_id, rows, _currency(call))
    return EntryPage(data=data, meta=page_meta(query.page, query.pageSize, total, None))


def get_entry(call: Call) -> Reply:
    entry = entry_document(call.session, call.owner.user_id, _card_entry(call).id, _currency(call))
    return Reply(entry, headers=validators(entry))


def create_entry(call: Call) -> Reply:
    body: EntryCreate = call.body
    currency = _currency(call)
    try:
        added = add_card(
            call.session,
            call.owner.user_id,
            body.cardId,
            quantity=body.quantity,
            condition=body.conditionCode.value,
            printing=body.printing.value,
            strategy=body.duplicationStrategy.value,
            price=Decimal(str(body.purchasePrice)) if body.purchasePrice is not None else None,
            currency=body.purchaseCurrency or currency,
            acquired=body.acquiredAt,
            notes=body.notes,
        )
    except Conflict:
        raise ApiError(
            409,
            "ENTRY_EXISTS",
            f"You already have an entry for {body.cardId} in {body.conditionCode.value} ({body.printing.value}); send "
            'duplicationStrategy "increment" to add copies to it (or, with a purchase price, date or notes it does '
            "not have, to an entry of their own).",
        ) from None
    item = added.item
    call.session.flush()
    call.session.refresh(item)
    delta = _unit_value(call.session, call.owner.user_id, item.id, currency) * body.quantity
    entry = entry_document(call.session, call.owner.user_id, item.id, currency)
    change = EntryChange(
        entry=entry,
        created=added.created,
        keptApartFrom=added.kept_apart_from,
        message=added.message,
        collectionValueDelta=float(round(delta, 2)),
        currency=currency,
    )
    headers = validators(entry) | {"Location": f"/api/collection/entries/{item.id}"}
    return Reply(change, status=201 if added.created else 200, headers=headers)


def update_entry(call: Call) -> Reply:
    body: EntryUpdate = call.body
    item = _card_entry(call)
    check_preconditions(call, item)
    given = body.model_fields_set
    changes: dict[str, Any] = {}
    if "quantity" in given:
        changes["quantity"] = body.quantity
    if "conditionCode" in given:
        changes["grade"] = changes["grade_code"] = body.conditionCode.value
    if "acquiredAt" in given:
        changes["acquired_date"] = body.acquiredAt
    if "purchasePrice" in given:
        changes["acquired_price"] = Decimal(str(body.purchasePrice)) if body.purchasePrice is not None else None
        changes["acquired_currency"] = (
            (body.purchaseCurrency or _currency(call)) if body.purchasePrice is not None else None
        )
    elif "purchaseCurrency" in given and body.purchaseCurrency:
        changes["acquired_currency"] = body.purchaseCurrency
    if "notes" in given:
        changes["notes"] = body.notes
    if changes:
        item = update_service_item(call.session, call.owner.user_id, item.id, item.version, **changes)
        call.session.refresh(item)
    entry = entry_document(call.session, call.owner.user_id, item.id, _currency(call))
    return Reply(entry, headers=validators(entry))


def delete_entry(call: Call) -> Deleted:
    item = _card_entry(call)
    check_preconditions(call, item)
    currency = _currency(call)
    delta = -_unit_value(call.session, call.owner.user_id, item.id, currency) * item.quantity
    delete_item(call.session, call.owner.user_id, item.id)
    return Deleted(deleted=True, collectionValueDelta=float(round(delta, 2)), currency=currency)


def _card_value(report: Valuation) -> CollectionValue:
    cards = next((kind for kind in report.kinds if kind.kind == "card"), KindValue("card", 0, Decimal(0), 0))
    return CollectionValue(
        totalEstimatedValue=float(cards.value),
        totalCards=cards.copies,
        cardsWithoutPrice=cards.unpriced,
        currency=report.currency,
    )


def _set_summaries(session: Session, sets: tuple[SetValue, ...]) -> list[SetSummary]:
    """Each set's figures, with the set as the catalogue endpoints describe it (series and release date too)."""
    known = {
        set_id: (series, released)
        for set_id, series, released in session.execute(
            select(PokemonSet.id, PokemonSet.series, PokemonSet.release_date).where(
                PokemonSet.id.in_([s.set_id for s in sets])
            )
        )
    }
    return [
        SetSummary(
            set=SetRef(
                id=s.set_id,
                name=s.name,
                series=known.get(s.set_id, (None, None))[0],
                releaseDate=known.get(s.set_id, (None, None))[1],
            ),
            uniqueCards=s.unique_cards,
            totalQuantity=s.copies,
            estimatedValue=float(s.value),
            setTotal=s.set_total,
            completion=s.completion,
        )
        for s in sets
    ]


def _last_price_refresh(session: Session, owner_id: int) -> datetime | None:
    owned = select(Item.pokemontcg_card_id).where(Item.owner_id == owner_id, Item.kind == "card")
    return aware(
        session.scalar(
            select(func.max(LatestPrice.observed_at)).where(
                LatestPrice.ref_kind == "pokemontcg", LatestPrice.ref_id.in_(owned)
            )
        )
    )


def collection_summary(call: Call) -> CollectionSummary:
    currency = _currency(call)
    meta = SummaryMeta(currency=currency, lastRefreshedAt=_last_price_refresh(call.session, call.owner.user_id))
    return CollectionSummary(
        data=_set_summaries(call.session, set_values(call.session, call.owner.user_id, currency)), meta=meta
    )


def collection_value(call: Call) -> CollectionValue:
    return _card_value(valuation(call.session, call.owner.user_id, _currency(call), sets=False))


def profile_summary(call: Call) -> ProfileSummary:
    user = call.session.get(User, call.owner.user_id)
    if user is None:
        raise InvalidInput("Your account no longer exists.", code="UNAUTHENTICATED")
    report = valuation(call.session, user.id, _currency(call))
    top = sorted(_set_summaries(call.session, report.sets), key=lambda s: (-s.estimatedValue, s.set.name))[:_TOP_SETS]
    recent = call.session.execute(
        select(Item.id, Item.title, Item.quantity, Item.updated_at)
        .where(Item.owner_id == user.id, Item.kind == "card")
        .order_by(Item.updated_at.desc(), Item.id.desc())
        .limit(_RECENT)
    )
    return ProfileSummary(
        member=Member(
            id=user.id,
            username=user.username,
            displayName=user.display_name,
            currency=_currency(call),
            memberSince=aware(user.created_at),
        ),
        value=_card_value(report),
        topSets=top,
        recentActivity=[Activity(entryId=i, title=t, quantity=q, updatedAt=aware(u)) for i, t, q, u in recent],
    )


_ENTRY_BODY_CODES = {
    "quantity": "INVALID_QUANTITY",
    "conditionCode": "INVALID_CONDITION",
    "printing": "INVALID_PRINTING",
}
OPERATIONS = [
    Operation(
        "GET",
        "/api/collection/entries",
        list_entries,
        "Your card entries",
        EntryPage,
        "collection",
        "collection",
        query=EntryQuery,
    ),
    Operation(
        "POST",
        "/api/collection/entries",
        create_entry,
        "Add copies of a card",
        EntryChange,
        "collection",
        "collection",
        body=EntryCreate,
        status=201,
        field_codes=_ENTRY_BODY_CODES,
        errors={
            400: ("INVALID_QUANTITY", "INVALID_CONDITION", "INVALID_PRINTING"),
            404: ("CARD_NOT_FOUND",),
            409: ("ENTRY_EXISTS",),
        },
        extra_statuses={
            200: (
                EntryChange,
                "Copies added to the entry you hold (duplicationStrategy increment; copies whose price paid, "
                "purchase date or notes differ from the entry's get a new one: 201 with keptApartFrom)",
            )
        },
    ),
    Operation(
        "GET",
        "/api/collection/entries/{entryId}",
        get_entry,
        "One of your entries",
        Entry,
        "collection",
        "collection",
        errors={404: ("ENTRY_NOT_FOUND",)},
        path_params=("entryId",),
    ),
    Operation(
        "PATCH",
        "/api/collection/entries/{entryId}",
        update_entry,
        "Edit an entry",
        Entry,
        "collection",
        "collection",
        body=EntryUpdate,
        field_codes=_ENTRY_BODY_CODES,
        path_params=("entryId",),
        errors={
            400: ("INVALID_QUANTITY", "INVALID_CONDITION"),
            404: ("ENTRY_NOT_FOUND",),
            412: ("PRECONDITION_FAILED",),
        },
    ),
    Operation(
        "DELETE",
        "/api/collection/entries/{entryId}",
        delete_entry,
        "Delete an entry",
        Deleted,
        "collection",
        "collection",
        path_params=("entryId",),
        errors={404: ("ENTRY_NOT_FOUND",), 412: ("PRECONDITION_FAILED",)},
    ),
    Operation(
        "GET",
        "/api/collection/summary",
        collection_summary,
        "Your cards per set",
        CollectionSummary,
        "collection",
        "collection",
    ),
    Operation(
        "GET",
        "/api/collection/value",
        collection_value,
        "Estimated value of your cards",
        CollectionValue,
        "collection",
        "collection",
    ),
    Operation(
        "GET",
        "/api/profile/summary",
        profile_summary,
        "You, your value, top sets, recent activity",
        ProfileSummary,
        "collection",
        "profile",
    ),
]
