"""Overview: what the collection is worth, by kind, and how that changed over time."""

import altair as alt
import pandas as pd
import streamlit as st

from services.demo import load_demo
from ui import cache
from ui.session import app_context, current_actor, money

actor = current_actor()
st.title("Overview")

report = cache.valuation(actor.id, actor.currency)
if report["totalItems"] == 0:
    st.info("Your collection is empty. Load the demo collection to look around, or import your own.")
    if st.button("Load the demo collection", key="load_demo", type="primary"):
        with st.spinner("Loading the demo collection…"), app_context().session() as session:
            result = load_demo(session, actor.id)
        cache.invalidate()
        st.success(f"Added {result.created} demo items.")
        st.rerun()
    st.stop()

total, copies, unpriced = st.columns(3)
total.metric("Estimated value", money(report["totalEstimatedValue"], report["currency"]))
copies.metric("Items (copies)", f"{report['totalItems']:,}")
unpriced.metric("Entries without a price", f"{report['itemsWithoutPrice']:,}")
rates_note = f"Converted to {report['currency']} at the ECB reference rates of {report['rateDate']}."
if report["itemsWithoutRate"]:
    rates_note += (
        f" {report['itemsWithoutRate']:,} of the entries without a price are priced in a currency the ECB"
        f" has no rate for ({', '.join(report['currenciesWithoutRate'])}): they are not counted."
    )
st.caption(rates_note)

by_kind = pd.DataFrame(
    [
        {"kind": kind, "copies": v["items"], "value": v["estimatedValue"]}
        for kind, v in report["byKind"].items()
    ]
)
left, right = st.columns(2)
with left:
    st.subheader("By kind")
    st.altair_chart(
        alt.Chart(by_kind)
        .mark_bar()
        .encode(
            x=alt.X("value:Q", title=f"Estimated value ({report['currency']})"),
            y=alt.Y("kind:N", title=None, sort="-x"),
            tooltip=["kind", "copies", "value"],
        ),
        width="stretch",
    )
    st.dataframe(by_kind, hide_index=True, key="by_kind_table")
with right:
    st.subheader("Value over time")
    history = pd.DataFrame(cache.value_history(actor.id, actor.currency))
    if history.empty:
        st.caption("No price history yet: each price refresh adds a point.")
    else:
        st.altair_chart(
            alt.Chart(history)
            .mark_line(point=True)
            .encode(
                x=alt.X("month:T", title=None),
                y=alt.Y("estimatedValue:Q", title=f"Estimated value ({report['currency']})"),
                tooltip=["month", "estimatedValue", "entries"],
            ),
            width="stretch",
        )
