"""One page of the Collection table: each item's stable document plus its remote status and estimated value."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.collection import ItemFilter, item_document, list_items, sync_statuses
from services.pricing import unit_prices


def page_rows(
    session: Session, owner_id: int, filters: ItemFilter, *, limit: int, offset: int, currency: str
) -> list[dict[str, Any]]:
    """Rows for the Collection page, paged in SQL; `sync` is the status on the item's own service
    ("" where none applies), values are in `currency` (None when unknown, never 0)."""
    items = list_items(session, owner_id, filters, limit=limit, offset=offset)
    statuses = sync_statuses(session, [item.id for item in items])
    prices = unit_prices(session, owner_id, [item.id for item in items], currency)
    rows = []
    for item in items:
        document = item_document(item, statuses.get(item.id))
        price = prices.get(item.id)
        rows.append(
            {
                **{key: document[key] for key in ("id", "kind", "title", "quantity", "grade", "status")},
                "sync": next(filter(None, document["sync"].values()), ""),
                "unit value": float(price) if price is not None else None,
                "value": float(price * document["quantity"]) if price is not None else None,
                "notes": item.notes,
                "version": item.version,
            }
        )
    return rows
