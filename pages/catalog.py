"""Catalog: find a Pokémon card and add copies of it to the collection."""

import pandas as pd
import streamlit as st

from services.catalog.pokemon import list_sets, search_cards
from services.collection import CARD_CONDITIONS, CARD_PRINTINGS, DUPLICATE_STRATEGIES, add_card
from services.errors import VitrineError
from ui import cache
from ui.session import app_context, current_actor

actor = current_actor()
context = app_context()
st.title("Catalog")

with context.session() as session:
    sets = {s.id: s.name for s in list_sets(session)}
query_col, set_col = st.columns([2, 1])
text = query_col.text_input("Card name", key="catalog_query", placeholder="e.g. Charizard")
set_id = set_col.selectbox(
    "Set", ["", *sets], format_func=lambda s: sets.get(s, "All sets"), key="catalog_set"
)
with context.session() as session:
    cards = search_cards(session, text, set_id=set_id or None, limit=24)
    results = pd.DataFrame(
        [
            {
                "image": c.image_small,
                "name": c.name,
                "set": c.set.name,
                "number": c.number,
                "rarity": c.rarity,
                "id": c.id,
            }
            for c in cards
        ]
    )
if results.empty:
    st.info("No card matches. Check the spelling or pick another set.")
    st.stop()
st.dataframe(
    results, hide_index=True, key="catalog_results", column_config={"image": st.column_config.ImageColumn()}
)

st.subheader("Add to my collection")
with st.form("add_card_form"):
    card_id = st.selectbox(
        "Card",
        results["id"],
        format_func=lambda i: f"{i} · {results.set_index('id').at[i, 'name']}",
        key="add_card_id",
    )
    quantity_col, condition_col, printing_col, strategy_col = st.columns(4)
    quantity = quantity_col.number_input("Quantity", min_value=1, value=1, key="add_card_quantity")
    condition = condition_col.selectbox("Condition", CARD_CONDITIONS, key="add_card_condition")
    printing = printing_col.selectbox("Printing", CARD_PRINTINGS, key="add_card_printing")
    strategy = strategy_col.selectbox(
        "If I already have it",
        DUPLICATE_STRATEGIES,
        key="add_card_strategy",
        help="increment: add to that entry",
    )
    submitted = st.form_submit_button("Add", type="primary")
if submitted:
    try:
        with context.session() as session:
            item, created = add_card(
                session, actor.id, card_id, quantity=int(quantity), condition=condition, printing=printing,
                strategy=strategy,
            )  # fmt: skip
            message = f"{'Added' if created else 'Updated'} {item.title}: {item.quantity} in your collection."
        cache.invalidate()
        st.success(message)
    except VitrineError as error:
        st.error(error.message)
