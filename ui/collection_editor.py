"""The Collection page's item editor: every editable field of the item's kind, saved with optimistic concurrency
(an edit made on an older version is refused, never silently overwrites), confirmed after saving. UI only."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

import streamlit as st

from services import labels
from services.collection import get_item, update_item
from services.context import AppContext
from services.errors import VitrineError
from services.grades import NUMISTA_GRADES
from services.integrations.discogs.conditions import MEDIA_CONDITIONS, SLEEVE_CONDITIONS
from services.item_fields import edit_fields_for, edit_values
from services.pricing import own_estimate, set_own_estimate
from services.states import CARD_CONDITIONS, CARD_PRINTINGS, ItemKind, ItemStatus, values
from services.validation import QUANTITY_MAX, QUANTITY_MIN, YEAR_MAX, YEAR_MIN, parse_money
from ui import cache
from ui.fields import DATE_FORMAT, money_input
from ui.session import Actor

FLASH = "collection_flash"
_LABELS = {
    "title": "Title", "quantity": "Quantity", "status": "Status", "storage_location": "Storage", "tags": "Tags",
    "notes": "Notes", "acquired_date": "Bought on", "acquired_price": "Price paid (per copy)",
    "acquired_currency": "Paid in", "acquired_place": "Bought at", "country": "Country", "year": "Year",
    "series": "Series", "grade": "Grade",
    "grade_code": "Numista grade", "numista_type_id": "Numista type (N#)", "numista_issue_id": "Numista issue",
    "printing": "Printing", "language": "Language", "discogs_release_id": "Discogs release",
    "face_value": "Face value", "face_unit": "Unit", "mint": "Mint", "mintmark": "Mint mark", "artist": "Artist",
    "format": "Format", "sleeve": "Sleeve condition",
}  # fmt: skip
_KIND_LABELS = {
    ("card", "grade"): "Condition", ("record", "grade"): "Media condition", ("record", "series"): "Label",
}  # fmt: skip
_OPTIONAL_INTS = ("year", "numista_type_id", "numista_issue_id", "discogs_release_id")


def field_label(kind: str, name: str) -> str:
    """The words a field goes by for this kind (a card's grade is its condition, a record's series its label)."""
    return _KIND_LABELS.get((kind, name), _LABELS[name])


def _choice(label: str, options: list[str], current: Any, key: str, shown: Callable[[str], str] = str) -> Any:
    """A pick among fixed options, keeping a current value that is not one of them; "" means not set."""
    options = [*options, *([current] if current and current not in options else [])]
    return st.selectbox(label, options, index=options.index(current) if current in options else 0,
                        format_func=lambda option: shown(option) if option else "not set", key=key) or None  # fmt: skip


def _field(name: str, kind: str, current: Any, key: str) -> Any:
    """One widget for one field; returns the value as the item stores it (ranges: services.validation)."""
    label = field_label(kind, name)
    if name == "quantity":
        return int(st.number_input(label, min_value=QUANTITY_MIN, max_value=QUANTITY_MAX, value=int(current or 1),
                                   step=1, key=key))  # fmt: skip
    if name == "status":
        return _choice(label, list(values(ItemStatus)), current, key, labels.status_label)
    if name in _OPTIONAL_INTS:
        low, high = (YEAR_MIN, YEAR_MAX) if name == "year" else (1, None)
        chosen = st.number_input(label, min_value=low, max_value=high, value=current, step=1,
                                 placeholder="not set", key=key)  # fmt: skip
        return int(chosen) if chosen is not None else None
    if name == "grade" and kind == ItemKind.CARD:
        return _choice(label, list(CARD_CONDITIONS), current, key)
    if name == "grade" and kind == ItemKind.RECORD:
        return _choice(label, ["", *MEDIA_CONDITIONS], current, key)
    if name == "sleeve":
        return _choice(label, ["", *SLEEVE_CONDITIONS], current, key)
    if name == "grade_code":
        return _choice(label, ["", *NUMISTA_GRADES], current, key, str.upper)
    if name == "printing":
        return _choice(label, list(CARD_PRINTINGS), current, key, labels.printing_label)
    if name == "tags":
        text = st.text_input(label, value=", ".join(current or []), placeholder="comma, separated", key=key)
        return [tag.strip() for tag in text.split(",") if tag.strip()] or None
    if name == "notes":
        note = st.text_area(label, value=current or "", key=key)
        return note if note.strip() else None  # an empty note stays empty (None), never "nan" or spaces
    if name == "acquired_date":
        return st.date_input(label, value=current, min_value=date(1800, 1, 1), format=DATE_FORMAT, key=key)
    if name == "acquired_price":
        return money_input(label, value=current, key=key)  # the text: read by parse_money once the form is sent
    if name == "acquired_currency":
        code = st.text_input(label, value=current or "", max_chars=3, placeholder="EUR", key=key)
        return code.strip().upper() or None
    if name == "title":
        return st.text_input(label, value=current or "", key=key).strip()  # an empty title is refused, not cleared
    placeholder = {"face_value": "2 or 0.5", "face_unit": "Euro, Cents", "mintmark": "A, D, F"}.get(name, "")
    return st.text_input(label, value=current or "", placeholder=placeholder, key=key).strip() or None


def _seen_key(item_id: int) -> str:
    return f"edit_seen_version_{item_id}"


def forget_seen_versions(item_ids: Iterable[int]) -> None:
    """The member changed these items here (a bulk action): their forms follow the new version instead of
    warning that someone changed them elsewhere."""
    for item_id in item_ids:
        st.session_state.pop(_seen_key(item_id), None)


def item_editor(context: AppContext, actor: Actor, item_id: int) -> None:
    """The edit form of one of the actor's items, with its own estimate; shows what was saved."""
    with context.session() as session:
        item = get_item(session, actor.id, item_id)
        current = edit_values(session, item)
        session.expunge(item)
        estimate = own_estimate(session, item_id)
    seen_key = _seen_key(item.id)
    seen = st.session_state.setdefault(seen_key, item.version)  # the version this form was opened on
    if seen != item.version:
        st.warning(f"This item was changed elsewhere since you opened it (version {seen} → {item.version}); "
                   "saving this form would be refused.")  # fmt: skip
        if st.button("Reload the item", key=f"edit_reload_{item.id}"):
            st.session_state.pop(seen_key, None)
            st.rerun()
    prefix = f"edit_{item.id}_v{seen}"
    with st.form(f"edit_item_{item.id}", border=True):
        st.markdown(f"**{labels.kind_label(item.kind)} #{item.id}** · version {seen}")
        columns = st.columns(3)
        chosen: dict[str, Any] = {}
        for index, name in enumerate(edit_fields_for(item.kind)):
            with columns[index % 3]:
                chosen[name] = _field(name, item.kind, current[name], f"{prefix}_{name}")
        estimate_col, estimate_currency_col, _ = st.columns(3)
        typed_estimate = money_input("Your own estimate (per copy)", value=estimate[0] if estimate else None,
                                     placeholder="none: use catalogue prices", key=f"{prefix}_estimate",
                                     where=estimate_col)  # fmt: skip
        estimate_currency = estimate_currency_col.text_input(
            "Estimate currency", value=estimate[1] if estimate else actor.currency, max_chars=3,
            key=f"{prefix}_estimate_currency",
        ).strip().upper()  # fmt: skip
        saved = st.form_submit_button("Save changes", type="primary")
    if not saved:
        return
    try:  # a refused amount saves nothing, and the form keeps what was typed
        if "acquired_price" in chosen:
            chosen["acquired_price"] = parse_money(chosen["acquired_price"], name=_LABELS["acquired_price"].lower())
        new_value = parse_money(typed_estimate, name="own estimate")
    except VitrineError as error:
        st.error(error.message)
        return
    changes = {name: value for name, value in chosen.items() if value != current[name]}
    old_estimate = estimate[0] if estimate else None
    estimate_changed = new_value != old_estimate or bool(
        new_value is not None and estimate and estimate[1] != estimate_currency
    )
    if not changes and not estimate_changed:
        st.info("Nothing changed.")
        return
    try:
        with context.session() as session:  # the item and its estimate saved together, or neither
            if changes:
                update_item(session, actor.id, item.id, seen, **changes)
            elif estimate_changed:
                get_item(session, actor.id, item.id)  # the estimate is only set on one's own item
            if estimate_changed:
                set_own_estimate(session, item.id, new_value, estimate_currency)
    except VitrineError as error:
        st.error(error.message)
        return
    what = [field_label(item.kind, name).lower() for name in changes] + (["own estimate"] if estimate_changed else [])
    cache.invalidate()
    st.session_state.pop(seen_key, None)
    st.session_state[FLASH] = f"Saved #{item.id} {changes.get('title', item.title)}: {', '.join(what)}."
    st.rerun()
