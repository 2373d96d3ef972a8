"""Cached reads for pages. Every function takes the owner's id, so one user's data never serves another;
writes call `invalidate()` so the next render is fresh."""

from __future__ import annotations

import streamlit as st

from services import collection, pricing
from ui.session import app_context


@st.cache_data(ttl=30, show_spinner=False)
def valuation(owner_id: int, currency: str) -> pricing.Valuation:
    with app_context().session() as session:
        return pricing.valuation(session, owner_id, currency)


@st.cache_data(ttl=30, show_spinner=False)
def sync_summary(owner_id: int) -> dict[str, dict[str, int]]:
    with app_context().session() as session:
        return collection.sync_summary(session, owner_id)


def invalidate() -> None:
    valuation.clear()
    sync_summary.clear()
