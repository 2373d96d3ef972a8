"""Sets: completion and value per Pokémon set (charts and table), a set's binder (owned cards in colour, missing
ones greyed, one click to add), the entries no price source covers, and coins by country and series, records by
artist, with the same charts. Unpriced entries are never shown as 0."""

import html

import altair as alt
import pandas as pd
import streamlit as st

from services import labels
from services.collection import add_card
from services.errors import VitrineError
from services.images import ImageCache, fetch_images
from services.integrations.pokemontcg.catalog import list_sets
from services.integrations.pokemontcg.sync import catalogue_status
from services.integrations.pokemontcg.values import unpriced_entries
from services.sets_view import binder, group_values
from ui import cache
from ui.session import app_context, current_actor

BINDER_PAGE = 18
FLASH = "sets_flash"
actor = current_actor()
context = app_context()
currency = actor.currency
st.title("Sets")
if flash := st.session_state.pop(FLASH, None):
    st.success(flash)

report = cache.valuation(actor.id, currency)
st.subheader("Pokémon sets")
with context.session() as session:
    banner = catalogue_status(session).banner()
if banner is not None and report.sets:
    (st.warning if banner[0] == "warning" else st.info)(banner[1], icon=":material/history:")
if not report.sets:
    st.info("No cards yet: add some from the Catalog page, or open a set's binder below and add the cards you have.")
else:
    sets = pd.DataFrame([
        {"id": s.set_id, "Set": s.name, "Unique cards": s.unique_cards, "Copies": s.copies,
         "Value": labels.money(s.value if s.priced else None, currency), "value_number": float(s.value),
         "Base set": s.base_completion, "Master set": s.completion, "Printed total": s.printed_total,
         "All cards": s.set_total}
        for s in report.sets
    ])  # fmt: skip
    completion = sets.melt(id_vars=["Set"], value_vars=["Base set", "Master set"], var_name="Completion",
                           value_name="share")  # fmt: skip
    completion_col, value_col = st.columns(2)
    completion_col.altair_chart(
        alt.Chart(completion, title="Completion").mark_bar().encode(
            x=alt.X("share:Q", title=None, axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("Set:N", title=None), yOffset="Completion:N",
            color=alt.Color("Completion:N", legend=alt.Legend(orient="bottom")),
            tooltip=["Set", "Completion", alt.Tooltip("share:Q", format=".0%")],
        ),
        width="stretch",
    )  # fmt: skip
    value_col.altair_chart(
        alt.Chart(sets, title=f"Value per set ({currency})").mark_bar().encode(
            x=alt.X("value_number:Q", title=None), y=alt.Y("Set:N", title=None, sort="-x"),
            tooltip=["Set", "Value", "Copies"],
        ),
        width="stretch",
    )  # fmt: skip
    st.dataframe(
        sets.drop(columns=["value_number"]), hide_index=True, key="sets_table",
        column_config={
            "Base set": st.column_config.ProgressColumn(help="Owned cards numbered within the printed total",
                                                        format="percent", min_value=0, max_value=1),
            "Master set": st.column_config.ProgressColumn(help="Owned cards of the full card list, secret rares "
                                                          "included", format="percent", min_value=0, max_value=1),
        },
    )  # fmt: skip

st.subheader("Binder")
with context.session() as session:
    all_sets = [(s.id, s.name) for s in list_sets(session)]
if not all_sets:
    st.info("The card catalogue is empty: sync it from the Catalog page.")
else:
    names = dict(all_sets)
    owned_first = [s.set_id for s in report.sets] + [i for i, _ in all_sets if i not in
                                                      {s.set_id for s in report.sets}]  # fmt: skip
    set_col, show_col = st.columns([2, 1])
    chosen = set_col.selectbox("Set", owned_first, format_func=names.__getitem__, key="binder_set")
    show = show_col.segmented_control("Show", ["All", "Owned", "Missing"], default="All", key="binder_show")
    images = ImageCache.from_settings(context.settings)
    with context.session() as session:
        slots = binder(session, actor.id, chosen, images)
    owned = sum(slot.owned for slot in slots)
    st.caption(f"{owned} of {len(slots)} cards owned · missing cards are greyed: click Add when you get one.")
    shown = [slot for slot in slots if show in (None, "All") or (show == "Owned") == slot.owned]
    pages = max(1, -(-len(shown) // BINDER_PAGE))
    page = st.number_input(f"Binder page (of {pages})", 1, pages, 1, key=f"binder_page_{chosen}") if pages > 1 else 1
    if st.button("Fetch this set's card images", key="binder_fetch", icon=":material/image:"):
        with st.spinner("Fetching card images…"):
            added = fetch_images(images, [s.image_url for s in slots if s.image_url], context.settings)
        st.session_state[FLASH] = (f"{added} card image(s) cached." if added else
                                   "No new image could be fetched (offline?): drawn cards are shown.")  # fmt: skip
        st.rerun()
    grid = st.columns(6)
    for index, slot in enumerate(shown[(page - 1) * BINDER_PAGE : page * BINDER_PAGE]):
        with grid[index % 6], st.container(border=True, key=f"binder_slot_{slot.card_id}"):
            style = "width:100%;border-radius:6px" + ("" if slot.owned else ";filter:grayscale(1);opacity:.35")
            st.markdown(f'<img src="{slot.picture}" alt="{html.escape(slot.name)}" style="{style}">',
                        unsafe_allow_html=True)  # fmt: skip
            st.caption(f"No. {slot.number} · {slot.name}" + (f" · ×{slot.copies}" if slot.owned else " · missing"))
            if not slot.owned and st.button("Add", key=f"binder_add_{slot.card_id}", width="stretch"):
                try:
                    with context.session() as session:  # the card's own printing: add_card's default
                        result = add_card(session, actor.id, slot.card_id)
                except VitrineError as error:
                    st.error(error.message)
                else:
                    cache.invalidate()
                    st.session_state[FLASH] = result.message
                    st.rerun()

st.subheader("Entries without a price")
with context.session() as session:
    unpriced = unpriced_entries(session, actor.id)
if not unpriced:
    st.caption("Every entry you hold has a price.")
else:
    st.caption(
        f"{len(unpriced)} entr{'y' if len(unpriced) == 1 else 'ies'} no price source covers: counted apart, never "
        "as 0. Sync the card's set, pick the printing that has a price, or give your own estimate (Collection page)."
    )
    st.dataframe(pd.DataFrame([
        {"#": e.item_id, "Kind": labels.kind_label(e.kind), "Title": e.title, "Copies": e.quantity,
         "Condition": labels.text(e.grade), "Printing": labels.printing_label(e.printing),
         "Set": e.set_name or ""} for e in unpriced
    ]), hide_index=True, key="unpriced_table")  # fmt: skip


def group_chart(kind: str, group: str, title: str, key: str) -> None:
    """A bar chart of value per group, plus the table; groups with no price are listed as such, not as 0."""
    with context.session() as session:
        found = group_values(session, actor.id, kind, group, currency)
    st.markdown(f"**{title}**")
    if not found:
        st.caption("Nothing here yet.")
        return
    priced = pd.DataFrame([{"Group": g.name, "value": float(g.value), "Value": labels.money(g.value, currency),
                            "Copies": g.copies} for g in found if g.value is not None])  # fmt: skip
    if not priced.empty:
        st.altair_chart(alt.Chart(priced).mark_bar().encode(
            x=alt.X("value:Q", title=f"Value ({currency})"), y=alt.Y("Group:N", title=None, sort="-x"),
            tooltip=["Group", "Value", "Copies"]), width="stretch")  # fmt: skip
    st.dataframe(pd.DataFrame([
        {group.capitalize(): g.name, "Copies": g.copies, "Value": labels.money(g.value, currency),
         "Priced copies": g.priced_copies} for g in found
    ]), hide_index=True, key=key)  # fmt: skip


st.subheader("Coins by country and by series")
country_col, series_col = st.columns(2)
with country_col:
    group_chart("coin", "country", "By country", "countries_table")
with series_col:
    group_chart("coin", "series", "By series", "series_table")
st.subheader("Records by artist and by label")
artist_col, label_col = st.columns(2)
with artist_col:
    group_chart("record", "artist", "By artist", "artists_table")
with label_col:
    group_chart("record", "label", "By label", "labels_table")
