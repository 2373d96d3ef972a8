"""Collection: every item you own, filtered and paged in the database, with edit and delete."""

import math

import pandas as pd
import streamlit as st

from services.collection import ItemFilter, count_items, delete_item, get_item, update_item
from services.collection_table import page_rows
from services.errors import VitrineError
from services.store.models import ITEM_KINDS, SYNC_STATUSES
from ui import cache
from ui.numista_link import numista_link_section
from ui.session import app_context, current_actor

PAGE_SIZE = 50
actor = current_actor()
context = app_context()
st.title("Collection")

kind_col, sync_col, text_col = st.columns([1, 1, 2])
kind = kind_col.selectbox("Kind", ["all", *ITEM_KINDS], key="collection_kind")
sync_status = sync_col.selectbox("Sync status", ["any", *SYNC_STATUSES], key="collection_sync")
text = text_col.text_input("Title contains", key="collection_text")
filters = ItemFilter(
    kind=None if kind == "all" else kind,
    sync_status=None if sync_status == "any" else sync_status,
    text=text or None,
)

with context.session() as session:
    total = count_items(session, actor.id, filters)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = st.number_input(f"Page (of {pages})", 1, pages, 1, key="collection_page") if pages > 1 else 1
    rows = page_rows(
        session, actor.id, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, currency=actor.currency
    )

st.caption(f"{total:,} item(s) match; showing {len(rows)}.")
table = pd.DataFrame(rows)
if table.empty:
    st.info("Nothing matches these filters.")
    st.stop()
st.dataframe(
    table.drop(columns=["version"]),
    hide_index=True,
    key="collection_table",
    column_config={
        "unit value": st.column_config.NumberColumn(format=f"%.2f {actor.currency}"),
        "value": st.column_config.NumberColumn(format=f"%.2f {actor.currency}"),
    },
)

st.subheader("Edit an item")
choice = st.selectbox(
    "Item",
    table["id"],
    format_func=lambda i: f"#{i} {table.set_index('id').at[i, 'title']}",
    key="edit_item_id",
)
# The form edits the stored item, never the table's copy: a DataFrame turns missing values into NaN, and
# "NaN or ''" is NaN, which a text field shows (and saves) as the text "nan".
with context.session() as session:
    selected = get_item(session, actor.id, int(choice))
    session.expunge(selected)
with st.form(f"edit_item_{choice}"):
    quantity = st.number_input("Quantity", min_value=1, value=selected.quantity, key=f"edit_qty_{choice}")
    notes = st.text_area("Notes", value=selected.notes or "", key=f"edit_notes_{choice}")
    saved = st.form_submit_button("Save")
if saved:
    try:
        with context.session() as session:
            update_item(
                session, actor.id, int(choice), selected.version, quantity=int(quantity), notes=notes or None
            )
        cache.invalidate()
        st.success("Saved.")
        st.rerun()
    except VitrineError as error:
        st.error(error.message)

with st.expander("Delete this item"):
    confirm = st.checkbox(f"Yes, delete #{choice} {selected.title}", key=f"delete_confirm_{choice}")
    if st.button("Delete", key=f"delete_{choice}", disabled=not confirm, type="primary"):
        with context.session() as session:
            delete_item(session, actor.id, int(choice))
        cache.invalidate()
        st.rerun()

numista_link_section(context, actor, int(choice))
