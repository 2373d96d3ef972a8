"""Overview: what the collection is worth and what it cost, by kind; value over time; top items, movers and
recent additions. Figures come from services/overview.py; this page only draws them.

The page never waits for them to be computed (seconds at 100,000 items): it shows the remembered Overview
(services/memo.py) at once, and when a write has made it stale, says so and computes it again in a
background task (services/tasks.py, one per member whichever tab starts it), rerunning when that ends. Only
a member's very first Overview of a small collection is computed in the view (well under a second)."""

import altair as alt
import pandas as pd
import streamlit as st

from services import labels
from services.demo import load_demo
from services.overview import OverviewShown, overview, overview_view
from services.task_work import overview_work
from services.tasks import Task, TaskState, latest_task
from ui import cache
from ui.progress import rerun_at, start_page_task, task_panel
from ui.session import app_context, current_actor

actor = current_actor()
context = app_context()
st.title("Overview")


def start_update() -> TaskState | None:
    """Compute the member's Overview in a background task; if one is already running (another tab started it),
    that one. Returns the task's state."""
    start_page_task(context, actor.id, Task.OVERVIEW, overview_work(context, actor.id, actor.currency), total=1,
                    unit="steps", step="Computing", quiet=True)  # refused: another tab started it: follow that one
    with context.session() as session:
        return latest_task(session, actor.id, Task.OVERVIEW)


with context.session() as session:
    view = overview_view(session, actor.id, actor.currency)
memo, update = view.memo, view.update
if view.shown is OverviewShown.CURRENT and memo is not None:
    data = memo.value
elif view.shown is OverviewShown.COMPUTE_HERE:
    with context.session() as session:
        data = overview(session, actor.id, actor.currency)
else:
    if view.start_update:
        update = start_update()
    if memo is None:
        first = "Computing your Overview for the first time: it reads a year of prices of every item."
        st.caption("Your Overview could not be computed yet." if view.shown is OverviewShown.FAILED else first)
    elif view.shown is OverviewShown.PAUSED:
        st.caption(f"Figures from {labels.moment(memo.computed_at)}: your collection or its prices changed again "
                   "since. They update by themselves at most once a minute.")  # fmt: skip
    else:
        note = "updating them stopped." if view.shown is OverviewShown.FAILED else "updating…"
        st.caption(f"Figures from {labels.moment(memo.computed_at)}, before your latest changes — {note}")
    if view.resumes_at is not None:  # paused: the last update's result would read "up to date" beside old figures
        rerun_at(view.resumes_at)
    else:
        task_panel(context, actor.id, Task.OVERVIEW, update)
    if view.shown in (OverviewShown.FAILED, OverviewShown.PAUSED) and st.button(
        "Update the figures", key="update_overview", icon=":material/refresh:"
    ):
        start_update()
        st.rerun()
    if memo is None:
        st.stop()
    data = memo.value
totals = data.totals
currency = totals.currency
if totals.copies == 0:
    st.info("Your collection is empty. Load the demo collection to look around, or import your own coins "
            "(OpenNumismat), cards (CSV or the Catalog page) or records.")  # fmt: skip
    if st.button("Load the demo collection", key="load_demo", type="primary"):
        with st.spinner("Loading the demo collection…"), context.session() as session:
            result = load_demo(session, actor.id)
            overview(session, actor.id, actor.currency)  # small: remembered now, so the next run shows it
        cache.invalidate()
        st.success(f"Added {result.created} demo items.")
        st.rerun()
    st.page_link("pages/import.py", label="Import a collection", icon=":material/upload_file:")
    st.stop()

value_col, cost_col, gain_col = st.columns(3)
copies_col, unpriced_col, _ = st.columns(3)
value_col.metric("Estimated value", labels.money(totals.value if totals.priced_entries else None, currency))
cost_col.metric("What you paid", labels.money(totals.cost, currency) if totals.cost_entries else "not recorded",
                help=f"Purchase prices known for {totals.cost_entries:,} entries.")  # fmt: skip
gain_col.metric("Gain / loss", labels.signed_money(totals.gain, currency) if totals.gain_entries else "not known",
                help=f"Value minus price paid, over the {totals.gain_entries:,} entries with both.")  # fmt: skip
copies_col.metric("Items (copies)", f"{totals.copies:,}")
unpriced_col.metric("Entries without a price", f"{totals.unpriced:,}",
                    help="Never counted as 0: give your own estimate on the Collection page.")  # fmt: skip
report = data.valuation
rate_day = labels.day(report.rate_date)
rates_note = f"Converted to {currency} at the ECB reference rates of {rate_day}."
if report.without_rate:
    rates_note += (
        f" {report.without_rate:,} of the entries without a price are priced in a currency the ECB"
        f" has no rate for ({', '.join(report.currencies_without_rate)}): they are not counted."
    )
st.caption(rates_note)

by_kind = pd.DataFrame([
    {"Kind": labels.KIND_PLURALS.get(k.kind, k.kind), "Copies": k.copies,
     "Value": labels.money(k.value if k.priced_entries else None, currency),
     "Paid": labels.money(k.cost, currency) if k.cost_entries else "not recorded",
     "Gain / loss": labels.signed_money(k.gain, currency) if k.gain_entries else "not known",
     "Without a price": k.unpriced, "value_number": float(k.value)}
    for k in totals.kinds
])  # fmt: skip
left, right = st.columns(2)
with left:
    st.subheader("By kind")
    if not totals.priced_entries:
        st.caption("No entry has a price yet: sync prices, or give your own estimate on the Collection page.")
    else:
        st.altair_chart(
            alt.Chart(by_kind).mark_bar().encode(
                x=alt.X("value_number:Q", title=f"Estimated value ({currency})"),
                y=alt.Y("Kind:N", title=None, sort="-x"),
                tooltip=["Kind", "Copies", "Value", "Paid", "Gain / loss"],
            ),
            width="stretch",
        )  # fmt: skip
    st.dataframe(by_kind.drop(columns=["value_number"]), hide_index=True, key="by_kind_table")
with right:
    st.subheader("Value over time")
    if not data.history:
        st.caption("No price history yet: each price refresh adds a point, and the chart grows month by month.")
    else:
        history = pd.DataFrame([
            {"month": pd.Timestamp(point.month), "Kind": labels.KIND_PLURALS.get(point.kind, point.kind),
             "value": float(point.value), "Value": labels.money(point.value, currency),
             "Month": point.month.strftime("%B %Y")}
            for point in data.history
        ])  # fmt: skip
        st.altair_chart(
            alt.Chart(history).mark_line(point=True).encode(
                x=alt.X("month:T", title=None, axis=alt.Axis(format="%b %Y", labelAngle=-40)),
                y=alt.Y("value:Q", title=f"Estimated value ({currency})"),
                color=alt.Color("Kind:N", legend=alt.Legend(orient="bottom")),
                tooltip=["Month", "Kind", "Value"],
            ),
            width="stretch",
        )  # fmt: skip

top_col, movers_col = st.columns(2)
with top_col:
    st.subheader("Top items by value")
    if data.top:
        st.dataframe(pd.DataFrame([
            {"#": i.item_id, "Item": i.title, "Kind": labels.kind_label(i.kind), "Copies": i.copies,
             "Value": labels.money(i.value, currency)} for i in data.top
        ]), hide_index=True, key="top_items")  # fmt: skip
    else:
        st.caption("No item has a price yet: sync prices or give your own estimates.")
with movers_col:
    st.subheader("Biggest movers")
    for tab, days, moved in zip(st.tabs(["7 days", "30 days"]), (7, 30), (data.movers_7, data.movers_30),
                                strict=True):  # fmt: skip
        with tab:
            if not moved:
                st.caption(f"No price moved over the last {days} days.")
                continue
            st.dataframe(pd.DataFrame([
                {"Item": m.title, "Kind": labels.kind_label(m.kind), "Since": labels.day(m.since),
                 "Then": labels.money(m.before, currency), "Now": labels.money(m.now, currency),
                 "Change": labels.signed_money(m.change, currency),
                 "%": f"{m.change_ratio:+.1%}" if m.change_ratio is not None else ""} for m in moved
            ]), hide_index=True, key=f"movers_{days}")  # fmt: skip

st.subheader("Recent additions")
st.dataframe(pd.DataFrame([
    {"#": r.item_id, "Item": r.title, "Kind": labels.kind_label(r.kind), "Added": labels.day(r.added)}
    for r in data.recent
]), hide_index=True, key="recent_additions")  # fmt: skip
