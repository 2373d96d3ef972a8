"""The Collection page's item editor: every editable field of the item's kind, saved with optimistic concurrency
(an edit made on an older version is refused, never silently overwrites), confirmed after saving. UI only."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import streamlit as st

from services import labels
from services.collection import edit_fields_for, get_item, update_item
from services.context import AppContext
from services.errors import InvalidInput, VitrineError
from services.grades import NUMISTA_GRADES
from services.pricing import own_estimate, set_own_estimate
from services.states import CARD_CONDITIONS, CARD_PRINTINGS, ItemStatus, values
from ui import cache
from ui.session import Actor

FLASH = "collection_flash"
_LABELS = {
    "title": "Title", "quantity": "Quantity", "status": "Status", "storage_location": "Storage", "tags": "Tags",
    "notes": "Notes", "acquired_date": "Bought on", "acquired_price": "Price paid", "acquired_currency": "Paid in",
    "acquired_place": "Bought at", "country": "Country", "year": "Year", "series": "Series", "grade": "Grade",
    "grade_code": "Numista grade", "numista_type_id": "Numista type (N#)", "numista_issue_id": "Numista issue",
    "printing": "Printing", "language": "Language", "discogs_release_id": "Discogs release",
}  # fmt: skip
_OPTIONAL_INTS = ("year", "numista_type_id", "numista_issue_id", "discogs_release_id")


def _field(name: str, kind: str, current: Any, key: str) -> Any:
    """One widget for one field; returns the value as the item stores it."""
    label = _LABELS[name]
    if name == "grade" and kind == "card":
        label = "Condition"
    if name == "grade" and kind == "record":
        label = "Media condition"
    if name == "quantity":
        return int(st.number_input(label, min_value=1, value=int(current or 1), step=1, key=key))
    if name == "status":
        options = list(values(ItemStatus))
        return st.selectbox(label, options, index=options.index(current) if current in options else 0,
                            format_func=labels.status_label, key=key)  # fmt: skip
    if name in _OPTIONAL_INTS:
        bounds = (1, 2100) if name == "year" else (1, None)
        chosen = st.number_input(label, min_value=bounds[0], max_value=bounds[1], value=current, step=1,
                                 placeholder="not set", key=key)  # fmt: skip
        return int(chosen) if chosen is not None else None
    if name == "grade" and kind == "card":
        options = [*CARD_CONDITIONS, *([current] if current and current not in CARD_CONDITIONS else [])]
        return st.selectbox(label, options, index=options.index(current) if current in options else 0, key=key)
    if name == "grade_code":
        options = ["", *NUMISTA_GRADES]
        return st.selectbox(label, options, index=options.index(current) if current in options else 0,
                            format_func=lambda code: code.upper() if code else "not set", key=key) or None  # fmt: skip
    if name == "printing":
        options = [*CARD_PRINTINGS, *([current] if current and current not in CARD_PRINTINGS else [])]
        return st.selectbox(label, options, index=options.index(current) if current in options else 0,
                            format_func=labels.printing_label, key=key)  # fmt: skip
    if name == "tags":
        text = st.text_input(label, value=", ".join(current or []), placeholder="comma, separated", key=key)
        return [tag.strip() for tag in text.split(",") if tag.strip()] or None
    if name == "notes":
        return st.text_area(label, value=current or "", key=key) or None
    if name == "acquired_date":
        return st.date_input(label, value=current, min_value=date(1800, 1, 1), format="DD/MM/YYYY", key=key)
    if name == "acquired_price":
        amount = st.number_input(label, min_value=0.0, value=float(current) if current is not None else None,
                                 step=0.01, format="%.2f", placeholder="not set", key=key)  # fmt: skip
        return Decimal(str(amount)).quantize(Decimal("0.01")) if amount is not None else None
    if name == "acquired_currency":
        text = st.text_input(label, value=current or "", max_chars=3, placeholder="EUR", key=key).strip().upper()
        return text or None
    return st.text_input(label, value=current or "", key=key).strip() or None


def item_editor(context: AppContext, actor: Actor, item_id: int) -> None:
    """The edit form of one of the actor's items, with its own estimate; shows what was saved."""
    with context.session() as session:
        item = get_item(session, actor.id, item_id)
        session.expunge(item)
        estimate = own_estimate(session, item_id)
    seen_key = f"edit_seen_version_{item.id}"
    seen = st.session_state.setdefault(seen_key, item.version)  # the version this form was opened on
    if seen != item.version:
        st.warning(f"This item was changed elsewhere since you opened it (version {seen} → {item.version}); "
                   "saving this form would be refused.")  # fmt: skip
        if st.button("Reload the item", key=f"edit_reload_{item.id}"):
            st.session_state.pop(seen_key, None)
            st.rerun()
    prefix = f"edit_{item.id}_v{seen}"
    fields = edit_fields_for(item.kind)
    with st.form(f"edit_item_{item.id}", border=True):
        st.markdown(f"**{labels.kind_label(item.kind)} #{item.id}** · version {seen}")
        columns = st.columns(3)
        chosen: dict[str, Any] = {}
        for index, name in enumerate(fields):
            with columns[index % 3]:
                chosen[name] = _field(name, item.kind, getattr(item, name), f"{prefix}_{name}")
        estimate_col, estimate_currency_col, _ = st.columns(3)
        new_estimate = estimate_col.number_input(
            "Your own estimate (per copy)", min_value=0.0, value=float(estimate[0]) if estimate else None,
            step=0.01, format="%.2f", placeholder="none: use catalogue prices", key=f"{prefix}_estimate",
        )  # fmt: skip
        estimate_currency = estimate_currency_col.text_input(
            "Estimate currency", value=estimate[1] if estimate else actor.currency, max_chars=3,
            key=f"{prefix}_estimate_currency",
        ).strip().upper()  # fmt: skip
        saved = st.form_submit_button("Save changes", type="primary")
    if not saved:
        return
    changes = {name: value for name, value in chosen.items() if value != getattr(item, name)}
    old_estimate = estimate[0] if estimate else None
    new_value = Decimal(str(new_estimate)).quantize(Decimal("0.01")) if new_estimate is not None else None
    estimate_changed = new_value != old_estimate or bool(
        new_value is not None and estimate and estimate[1] != estimate_currency
    )
    try:
        if estimate_changed and (len(estimate_currency) != 3 or not estimate_currency.isalpha()):
            raise InvalidInput("The estimate's currency is a three-letter code such as EUR.")
        if changes.get("acquired_currency") and not str(changes["acquired_currency"]).isalpha():
            raise InvalidInput("The price's currency is a three-letter code such as EUR.")
        if not changes and not estimate_changed:
            st.info("Nothing changed.")
            return
        with context.session() as session:
            if changes:
                update_item(session, actor.id, item.id, seen, **changes)
            elif estimate_changed:
                get_item(session, actor.id, item.id)  # the estimate is only set on one's own item
            if estimate_changed:
                set_own_estimate(session, item.id, new_value, estimate_currency)
    except VitrineError as error:
        st.error(error.message)
        return
    what = [_LABELS[name].lower() for name in changes] + (["own estimate"] if estimate_changed else [])
    cache.invalidate()
    st.session_state.pop(seen_key, None)
    st.session_state[FLASH] = f"Saved #{item.id} {changes.get('title', item.title)}: {', '.join(what)}."
    st.rerun()
