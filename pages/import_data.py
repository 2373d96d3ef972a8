"""Import: bring a collection in from another tool; every import is previewed, then committed at once."""

import pandas as pd
import streamlit as st

from services.collection import origin_summary
from services.demo import load_demo
from ui import cache
from ui.session import app_context, current_actor

actor = current_actor()
context = app_context()
st.title("Import")

st.subheader("What is in your collection, by source")
with context.session() as session:
    summary = pd.DataFrame(origin_summary(session, actor.id))
if summary.empty:
    st.info("Nothing imported yet.")
else:
    st.dataframe(summary, hide_index=True, key="origin_table")

st.subheader("Demo collection")
st.caption("Real coins, records and cards with illustrative prices. Loading it twice changes nothing.")
if st.button("Load the demo collection", key="import_demo"):
    with context.session() as session:
        result = load_demo(session, actor.id)
    cache.invalidate()
    st.success(f"{result.created} added, {result.unchanged} already there.")
