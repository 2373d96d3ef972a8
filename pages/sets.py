"""Sets: completion and value per Pokémon set (with the cards still missing), the entries no price source
covers, and coins by country and by series."""

import pandas as pd
import streamlit as st

from services.integrations.pokemontcg.catalog import missing_cards
from services.integrations.pokemontcg.sync import catalogue_status
from services.integrations.pokemontcg.values import unpriced_entries
from services.pricing import value_by
from ui import cache
from ui.session import app_context, current_actor

actor = current_actor()
context = app_context()
st.title("Sets")

report = cache.valuation(actor.id, actor.currency)
st.subheader("Pokémon sets")
with context.session() as session:
    banner = catalogue_status(session).banner()
if banner is not None and report["bySet"]:
    (st.warning if banner[0] == "warning" else st.info)(banner[1], icon=":material/history:")
if not report["bySet"]:
    st.info("No cards yet. Add some from the Catalog page.")
else:
    sets = pd.DataFrame(
        [
            {
                "id": s["set"]["id"],
                "set": s["set"]["name"],
                "unique cards": s["uniqueCards"],
                "copies": s["totalQuantity"],
                "value": s["estimatedValue"],
                "base set": s["baseCompletion"],
                "master set": s["completion"],
                "printed total": s["printedTotal"],
                "all cards": s["setTotal"],
            }
            for s in report["bySet"]
        ]
    )
    st.dataframe(
        sets,
        hide_index=True,
        key="sets_table",
        column_config={
            "value": st.column_config.NumberColumn(format=f"%.2f {actor.currency}"),
            "base set": st.column_config.ProgressColumn(
                help="Owned cards numbered within the printed total",
                format="percent",
                min_value=0,
                max_value=1,
            ),
            "master set": st.column_config.ProgressColumn(
                help="Owned cards of the full card list, secret rares included",
                format="percent",
                min_value=0,
                max_value=1,
            ),
        },
    )
    chosen = st.selectbox(
        "Missing cards of",
        sets["id"],
        format_func=dict(zip(sets["id"], sets["set"], strict=True)).get,
        key="sets_missing",
    )
    with context.session() as session:
        missing = [
            {"number": c.number, "name": c.name, "rarity": c.rarity, "id": c.id, "image": c.image_small}
            for c in missing_cards(session, actor.id, chosen)
        ]
    st.caption(f"{len(missing)} card(s) missing.")
    st.dataframe(
        pd.DataFrame(missing),
        hide_index=True,
        key="missing_table",
        column_config={"image": st.column_config.ImageColumn(width="small")},
    )

st.subheader("Entries without a price")
with context.session() as session:
    unpriced = unpriced_entries(session, actor.id)
if not unpriced:
    st.caption("Every entry you hold has a price.")
else:
    st.caption(
        f"{len(unpriced)} entr{'y' if len(unpriced) == 1 else 'ies'} no price source covers: counted apart, never "
        "as 0. Sync the card's set, pick the printing that has a price, or give your own estimate."
    )
    st.dataframe(
        pd.DataFrame(
            {
                "kind": [e["kind"] for e in unpriced],
                "title": [e["title"] for e in unpriced],
                "copies": [e["quantity"] for e in unpriced],
                "condition": [e["grade"] for e in unpriced],
                "printing": [e["printing"] for e in unpriced],
                "set": [e["set"]["name"] if e["set"] else None for e in unpriced],
                "id": [e["id"] for e in unpriced],
            }
        ),
        hide_index=True,
        key="unpriced_table",
    )

st.subheader("Records by artist and by label")
with context.session() as session:
    records = {
        group: pd.DataFrame(value_by(session, actor.id, "record", group, actor.currency))
        for group in ("artist", "label")
    }
if records["artist"].empty:
    st.info("No records yet. Import them from Discogs on the Import page.")
else:
    record_money = {"estimatedValue": st.column_config.NumberColumn("value", format=f"%.2f {actor.currency}")}
    by_artist, by_label = st.columns(2)
    by_artist.dataframe(records["artist"], hide_index=True, key="artists_table", column_config=record_money)
    by_label.dataframe(records["label"], hide_index=True, key="labels_table", column_config=record_money)

st.subheader("Coins by country and by series")
with context.session() as session:
    groups = {
        group: pd.DataFrame(value_by(session, actor.id, "coin", group, actor.currency))
        for group in ("country", "series")
    }
if groups["country"].empty:
    st.info("No coins yet. Import an OpenNumismat file from the Import page.")
else:
    money_column = {"estimatedValue": st.column_config.NumberColumn("value", format=f"%.2f {actor.currency}")}
    by_country, by_series = st.columns(2)
    by_country.dataframe(groups["country"], hide_index=True, key="countries_table", column_config=money_column)
    by_series.dataframe(groups["series"], hide_index=True, key="series_table", column_config=money_column)
