"""/api/items: every kind of item (coins, records and cards) read, and coins and records added, edited and deleted,
in the style of the card endpoints (paging, ETag/If-Match, If-Unmodified-Since, the same errors).

Cards are listed here too, but added and edited through /api/collection/entries, which knows conditions,
printings and the duplicate strategy. Every call goes through services.collection with the token's member.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from services.api.catalogue import aware, page_meta
from services.api.collection import check_preconditions, validators
from services.api.framework import ApiError, Call, Operation, Reply
from services.api.schemas import (
    Deleted,
    ItemCreate,
    ItemOut,
    ItemQuery,
    ItemRefs,
    ItemUpdate,
    Money,
    Page,
)
from services.collection import (
    SYNC_SERVICE_FOR_KIND,
    ItemFilter,
    add_item,
    count_items,
    delete_item,
    get_item,
    list_items,
    sync_statuses,
    sync_targets,
    update_item,
)
from services.errors import NotFound
from services.pricing import unit_prices
from services.states import SyncStatus
from services.store.models import Item


class ItemPage(Page[ItemOut]):
    pass


def item_documents(session: Session, owner_id: int, items: list[Item], currency: str) -> list[ItemOut]:
    ids = [item.id for item in items]
    prices = unit_prices(session, owner_id, ids, currency)
    statuses = sync_statuses(session, ids)
    documents = []
    for item in items:
        price = prices.get(item.id)
        documents.append(
            ItemOut(
                id=item.id,
                kind=item.kind,
                title=item.title,
                quantity=item.quantity,
                grade=item.grade,
                status=item.status,
                notes=item.notes,
                country=item.country,
                year=item.year,
                acquiredAt=item.acquired_date,
                purchasePrice=Money(amount=float(item.acquired_price), currency=item.acquired_currency or currency)
                if item.acquired_price is not None
                else None,
                refs=ItemRefs(
                    pokemontcg=item.pokemontcg_card_id,
                    numistaType=item.numista_type_id,
                    numistaIssue=item.numista_issue_id,
                    discogsRelease=item.discogs_release_id,
                ),
                sync={
                    service: statuses.get(item.id, {}).get(service, SyncStatus.NOT_SYNCED)
                    if SYNC_SERVICE_FOR_KIND.get(item.kind) == service
                    else None
                    for service in ("numista", "discogs")
                },
                syncTargets={"discogs": sync_targets(item.kind, statuses.get(item.id))},
                estimatedUnitValue=Money(amount=float(round(price, 2)), currency=currency)
                if price is not None
                else None,
                updatedAt=aware(item.updated_at),
                version=item.version,
            )
        )
    return documents


def _currency(call: Call) -> str:
    return call.owner.currency or call.context.settings.currency


def _own_item(call: Call) -> Item:
    raw = call.path["itemId"]
    item = None
    if raw.isascii() and raw.isdigit() and len(raw) < 12:
        with contextlib.suppress(NotFound):
            item = get_item(call.session, call.owner.user_id, int(raw))
    if item is None:
        raise ApiError(404, "ITEM_NOT_FOUND", f"No item {raw} in your collection.")
    return item


def _hand_kind(item: Item) -> None:
    if item.kind == "card":
        raise ApiError(409, "USE_ENTRIES", "Cards are changed through /api/collection/entries/{entryId}.")


def list_all_items(call: Call) -> ItemPage:
    query: ItemQuery = call.query
    filters = ItemFilter(kind=query.kind.value if query.kind else None, text=query.q)
    total = count_items(call.session, call.owner.user_id, filters)
    items = list_items(
        call.session, call.owner.user_id, filters, limit=query.pageSize, offset=(query.page - 1) * query.pageSize
    )
    data = item_documents(call.session, call.owner.user_id, items, _currency(call))
    return ItemPage(data=data, meta=page_meta(query.page, query.pageSize, total, None))


def get_one_item(call: Call) -> Reply:
    document = item_documents(call.session, call.owner.user_id, [_own_item(call)], _currency(call))[0]
    return Reply(document, headers=validators(document))


def _money_fields(body: ItemCreate | ItemUpdate, given: set[str], currency: str) -> dict[str, Any]:
    if "purchasePrice" not in given:
        return {"acquired_currency": body.purchaseCurrency} if body.purchaseCurrency else {}
    if body.purchasePrice is None:
        return {"acquired_price": None, "acquired_currency": None}
    return {"acquired_price": Decimal(str(body.purchasePrice)), "acquired_currency": body.purchaseCurrency or currency}


def create_item(call: Call) -> Reply:
    body: ItemCreate = call.body
    fields = {
        "grade": body.grade,
        "country": body.country,
        "year": body.year,
        "acquired_date": body.acquiredAt,
        "notes": body.notes,
    } | _money_fields(body, body.model_fields_set, _currency(call))
    item = add_item(
        call.session, call.owner.user_id, kind=body.kind.value, title=body.title, quantity=body.quantity, **fields
    )
    call.session.refresh(item)
    document = item_documents(call.session, call.owner.user_id, [item], _currency(call))[0]
    return Reply(document, status=201, headers=validators(document) | {"Location": f"/api/items/{item.id}"})


_COLUMNS = {
    "title": "title",
    "quantity": "quantity",
    "grade": "grade",
    "country": "country",
    "year": "year",
    "acquiredAt": "acquired_date",
    "notes": "notes",
}


def update_one_item(call: Call) -> Reply:
    body: ItemUpdate = call.body
    item = _own_item(call)
    _hand_kind(item)
    check_preconditions(call, item)
    given = body.model_fields_set
    changes = {column: getattr(body, field) for field, column in _COLUMNS.items() if field in given}
    changes |= _money_fields(body, given, _currency(call))
    if changes:
        item = update_item(call.session, call.owner.user_id, item.id, item.version, **changes)
        call.session.refresh(item)
    document = item_documents(call.session, call.owner.user_id, [item], _currency(call))[0]
    return Reply(document, headers=validators(document))


def delete_one_item(call: Call) -> Deleted:
    item = _own_item(call)
    _hand_kind(item)
    check_preconditions(call, item)
    currency = _currency(call)
    unit = unit_prices(call.session, call.owner.user_id, [item.id], currency).get(item.id, Decimal(0))
    delta = -unit * item.quantity
    delete_item(call.session, call.owner.user_id, item.id)
    return Deleted(deleted=True, collectionValueDelta=float(round(delta, 2)), currency=currency)


_CODES = {"quantity": "INVALID_QUANTITY", "kind": "INVALID_KIND", "title": "INVALID_TITLE"}
OPERATIONS = [
    Operation(
        "GET",
        "/api/items",
        list_all_items,
        "Your items of every kind",
        ItemPage,
        "collection",
        "items",
        query=ItemQuery,
    ),
    Operation(
        "POST",
        "/api/items",
        create_item,
        "Add a coin or a record",
        ItemOut,
        "collection",
        "items",
        body=ItemCreate,
        status=201,
        field_codes=_CODES,
        errors={400: ("INVALID_QUANTITY", "INVALID_KIND", "INVALID_TITLE")},
    ),
    Operation(
        "GET",
        "/api/items/{itemId}",
        get_one_item,
        "One of your items",
        ItemOut,
        "collection",
        "items",
        errors={404: ("ITEM_NOT_FOUND",)},
        path_params=("itemId",),
    ),
    Operation(
        "PATCH",
        "/api/items/{itemId}",
        update_one_item,
        "Edit a coin or a record",
        ItemOut,
        "collection",
        "items",
        body=ItemUpdate,
        field_codes=_CODES,
        path_params=("itemId",),
        errors={
            400: ("INVALID_QUANTITY", "INVALID_TITLE"),
            404: ("ITEM_NOT_FOUND",),
            409: ("USE_ENTRIES",),
            412: ("PRECONDITION_FAILED",),
        },
    ),
    Operation(
        "DELETE",
        "/api/items/{itemId}",
        delete_one_item,
        "Delete a coin or a record",
        Deleted,
        "collection",
        "items",
        path_params=("itemId",),
        errors={404: ("ITEM_NOT_FOUND",), 409: ("USE_ENTRIES",), 412: ("PRECONDITION_FAILED",)},
    ),
]
