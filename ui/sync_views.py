"""Streamlit-side reads for the export wizard: the user's Numista collections (cached: each look costs
Numista calls from the monthly quota) and small display helpers."""

from __future__ import annotations

from typing import Any

import streamlit as st

from services.http import ServiceError
from services.integrations.numista.api import numista_api
from ui.session import app_context


@st.cache_data(ttl=600, show_spinner="Asking Numista for your collections…")
def _collections(owner_id: int) -> list[dict[str, Any]]:
    with numista_api(app_context(), owner_id) as api:
        return [{"id": int(c["id"]), "name": str(c.get("name") or c["id"])} for c in api.list_collections()]


def numista_collections(owner_id: int) -> tuple[list[dict[str, Any]], str | None]:
    """([{id, name}], None) or ([], a message the user can act on). Answers are cached 10 minutes per user
    (each look costs Numista calls); failures are not cached, so a fixed key works at once."""
    try:
        return _collections(owner_id), None
    except ServiceError as error:
        return [], error.message

