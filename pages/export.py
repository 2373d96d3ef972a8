"""Export: where your coins and records stand on Numista and Discogs."""

import pandas as pd
import streamlit as st

from services.store.models import SYNC_STATUSES
from ui import cache
from ui.session import current_actor

actor = current_actor()
st.title("Export")

summary = cache.sync_summary(actor.id)
st.subheader("Sync status")
table = pd.DataFrame(
    [
        {"service": service, **{status: counts.get(status, 0) for status in SYNC_STATUSES}}
        for service, counts in summary.items()
    ]
)
st.dataframe(table, hide_index=True, key="sync_table")
st.caption("Coins go to Numista, records to Discogs. Connect your accounts on the Connections page first.")
