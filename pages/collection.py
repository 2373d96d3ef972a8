"""Collection: every item you own, with kind-specific columns and pictures, filtered and paged in the database;
bulk edit and delete, downloads of the view, and a complete editor for one item."""


import pandas as pd
import streamlit as st

from services import labels
from services.collection import (
    ItemFilter,
    bulk_update,
    delete_item,
    delete_items,
    find_items,
    get_item,
    list_items_by_id,
)
from services.collection_table import HEADERS, collection_page, columns_for, rows_csv, rows_json, view_rows
from services.errors import VitrineError
from services.images import ImageCache, fetch_images, remote_picture_urls
from services.states import ItemStatus, SyncStatus, values
from services.store.models import ITEM_KINDS
from ui import cache
from ui.collection_editor import FLASH, forget_seen_versions, item_editor
from ui.export_selection import send_to_export_button
from ui.numista_link import numista_link_section
from ui.session import app_context, current_actor

PAGE_SIZE = 50
PAGE_KEY = "collection_page_no"
actor = current_actor()
context = app_context()
st.title("Collection")
if flash := st.session_state.pop(FLASH, None):
    st.success(flash)

kind_col, status_col, sync_col, text_col = st.columns([1, 1, 1, 2])
kind = kind_col.selectbox("Kind", ["all", *ITEM_KINDS], key="collection_kind",
                          format_func=lambda k: "All kinds" if k == "all" else labels.KIND_PLURALS[k])  # fmt: skip
status = status_col.selectbox("Status", ["any", *values(ItemStatus)], key="collection_status",
                              format_func=lambda s: "Any status" if s == "any" else labels.status_label(s))  # fmt: skip
sync_status = sync_col.selectbox("Sync", ["any", *values(SyncStatus)], key="collection_sync",
                                 format_func=lambda s: "Any" if s == "any" else labels.sync_label(s))  # fmt: skip
text = text_col.text_input("Search", placeholder="title, country or #id", key="collection_text")
filters = ItemFilter(
    kind=None if kind == "all" else kind,
    status=None if status == "any" else status,
    sync_status=None if sync_status == "any" else sync_status,
    text=text or None,
)
if st.session_state.get("collection_filters") != filters:  # new filters start at the first page
    st.session_state["collection_filters"] = filters
    st.session_state[PAGE_KEY] = 1

with context.session() as session:
    shown = collection_page(session, actor.id, filters, page=int(st.session_state.get(PAGE_KEY, 1)),
                            page_size=PAGE_SIZE, currency=actor.currency,
                            images=ImageCache.from_settings(context.settings))  # fmt: skip
rows, total, page, pages = shown.rows, shown.total, shown.page, shown.pages

if not rows:
    st.info("Nothing matches these filters. Clear the search or choose another kind." if total == 0 and (
        text or kind != "all" or status != "any" or sync_status != "any")
        else "Your collection is empty: load the demo on the Overview page, or import your coins, cards or records.")
    st.stop()

columns = columns_for(filters.kind)
table = pd.DataFrame([{HEADERS[name]: getattr(row, name) for name in columns} for row in rows])
selection = st.dataframe(
    table,
    hide_index=True,
    key="collection_table",
    on_select="rerun",
    selection_mode="multi-row",
    row_height=56,
    column_config={
        HEADERS["picture"]: st.column_config.ImageColumn(HEADERS["picture"], width="small"),
        HEADERS["id"]: st.column_config.NumberColumn(HEADERS["id"], format="%d", width="small"),
        HEADERS["title"]: st.column_config.TextColumn(HEADERS["title"], width="large"),
    },
)

first_col, prev_col, where_col, next_col, last_col = st.columns([1, 1, 2, 1, 1])
for column, name, label, target, disabled in (
    (first_col, "first", "⏮ First", 1, page == 1), (prev_col, "previous", "◀ Previous", page - 1, page == 1),
    (next_col, "next", "Next ▶", page + 1, page == pages), (last_col, "last", "Last ⏭", pages, page == pages),
):  # fmt: skip
    if column.button(label, key=f"collection_goto_{name}", disabled=disabled, width="stretch"):
        st.session_state[PAGE_KEY] = target
        st.rerun()
first_shown = (page - 1) * PAGE_SIZE + 1
where_col.markdown(f"Page **{page}** of **{pages}** · items {first_shown:,}–{first_shown + len(rows) - 1:,} "
                   f"of {total:,}")  # fmt: skip


def _view_csv() -> str:
    with context.session() as session:
        return rows_csv(view_rows(session, actor.id, filters, currency=actor.currency), filters.kind)


def _view_json() -> str:
    with context.session() as session:
        return rows_json(view_rows(session, actor.id, filters, currency=actor.currency), filters.kind)


csv_col, json_col, pictures_col, _ = st.columns([1, 1, 1, 3])
csv_col.download_button(f"Download {total:,} as CSV", _view_csv, "vitrine-collection.csv", "text/csv",
                        key="collection_csv", on_click="ignore", icon=":material/download:")  # fmt: skip
json_col.download_button(f"Download {total:,} as JSON", _view_json, "vitrine-collection.json", "application/json",
                         key="collection_json", on_click="ignore", icon=":material/download:")  # fmt: skip

if pictures_col.button("Fetch this page's pictures", key="collection_fetch_pictures", icon=":material/image:",
                       help="Card images and covers are fetched once, then shown from the cache, also offline."):
    with context.session() as session:
        shown = list_items_by_id(session, actor.id, [row.id for row in rows])
        urls = list(remote_picture_urls(session, shown).values())
    with st.spinner(f"Fetching {len(urls)} picture(s)…"):
        added = fetch_images(ImageCache.from_settings(context.settings), urls, context.settings)
    st.session_state[FLASH] = (f"{added} new picture(s) cached." if added else
                               "No new picture could be fetched: the ones shown come from the cache or are drawn.")
    st.rerun()

selected_ids = [rows[index].id for index in selection.selection.rows] if selection else []
if selected_ids:
    with st.container(border=True, key="collection_bulk"):
        st.markdown(f"**{len(selected_ids)} selected** · " + ", ".join(f"#{i}" for i in selected_ids[:12])
                    + (" …" if len(selected_ids) > 12 else ""))  # fmt: skip
        new_status_col, storage_col, tags_col = st.columns(3)
        new_status = new_status_col.selectbox(
            "Set status", ["", *values(ItemStatus)], key="bulk_status",
            format_func=lambda s: "keep" if not s else labels.status_label(s),
        )  # fmt: skip
        storage = storage_col.text_input("Set storage", placeholder="keep", key="bulk_storage")
        tags = tags_col.text_input("Add tags", placeholder="comma, separated", key="bulk_tags")
        apply_col, confirm_col, delete_col = st.columns([1, 2, 1])
        if apply_col.button("Apply to selected", key="bulk_apply", type="primary"):
            try:  # one session: a value refused for one item changes none of them
                with context.session() as session:
                    changed = bulk_update(session, actor.id, selected_ids, status=new_status or None,
                                          storage_location=storage, add_tags=tags.split(","))  # fmt: skip
            except VitrineError as error:
                st.error(error.message)
            else:
                cache.invalidate()
                forget_seen_versions(selected_ids)  # their editor follows this change: it is the member's own
                st.session_state[FLASH] = f"Updated {changed} of {len(selected_ids)} selected item(s)."
                st.rerun()
        confirm = confirm_col.checkbox(f"Yes, delete the {len(selected_ids)} selected item(s)", key="bulk_delete_ok")
        if delete_col.button("Delete selected", key="bulk_delete", disabled=not confirm):
            try:  # e.g. an item deleted in another tab meanwhile: none of them is deleted
                with context.session() as session:
                    deleted = delete_items(session, actor.id, selected_ids)
            except VitrineError as error:
                st.error(error.message)
            else:
                cache.invalidate()
                st.session_state[FLASH] = f"Deleted {deleted} item(s)."
                st.rerun()
        send_to_export_button(context, actor, selected_ids)

st.subheader("Edit an item")
search = st.text_input("Find any item to edit", key="edit_search",
                       placeholder="title, country or #id: the whole collection, not only this page")
with context.session() as session:
    found = [(item.id, f"#{item.id} {item.title}") for item in find_items(session, actor.id, search)] if search else []
choices = found or [(row.id, f"#{row.id} {row.title}") for row in rows]
if selected_ids and not found:
    by_id = dict(choices)
    choices = [(i, by_id.get(i, f"#{i}")) for i in selected_ids] + [c for c in choices if c[0] not in selected_ids]
if search and not found:
    st.caption("No item matches that search; showing this page's items.")
names = dict(choices)
choice = st.selectbox("Item", list(names), format_func=names.__getitem__, key="edit_item_id")
item_editor(context, actor, int(choice))

with st.expander("Delete this item"):
    with context.session() as session:
        title = get_item(session, actor.id, int(choice)).title
    confirm = st.checkbox(f"Yes, delete #{choice} {title}", key=f"delete_confirm_{choice}")
    if st.button("Delete", key=f"delete_{choice}", disabled=not confirm, type="primary"):
        with context.session() as session:
            delete_item(session, actor.id, int(choice))
        cache.invalidate()
        st.session_state[FLASH] = f"Deleted #{choice} {title}."
        st.rerun()

numista_link_section(context, actor, int(choice))
