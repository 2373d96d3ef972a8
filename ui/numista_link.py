""""Find on Numista" for one coin (Collection page): search types by title, issuer, year and catalogue number,
pick one from the list, link it (with the issue of the coin's year when exactly one fits). UI only."""

from __future__ import annotations

from typing import Any

import streamlit as st

from services.accounts import connections
from services.collection import get_item
from services.context import AppContext
from services.errors import VitrineError
from services.http import ServiceError
from services.integrations.numista.api import numista_api
from services.integrations.numista.catalog import NumistaCatalog
from services.integrations.numista.links import (
    LinkQuery,
    clear_numista_link,
    find_numista_types,
    set_numista_link,
    suggested_query,
)
from ui import cache
from ui.session import Actor

_FLASH = "numista_link_flash"


def _years(summary: dict[str, Any]) -> str:
    low, high = summary.get("min_year"), summary.get("max_year")
    return f"{low}" if low == high else f"{low or '?'}–{high or '?'}"


def numista_link_section(context: AppContext, actor: Actor, item_id: int) -> None:
    """Show a coin's Numista link, and the search-and-pick flow to set or change it. Other kinds: nothing."""
    with context.session() as session:
        item = get_item(session, actor.id, item_id)
        if item.kind != "coin":
            return
        type_id, issue_id, version = item.numista_type_id, item.numista_issue_id, item.version
        query = suggested_query(item)
        connected = connections.status(session, context.vault, actor.id, "numista").connected
    st.subheader("Numista")
    flash = st.session_state.pop(_FLASH, None)
    if flash:
        st.success(flash)
    if type_id is not None:
        issue = f", issue {issue_id}" if issue_id is not None else ", issue not set"
        st.markdown(f"Linked to [N# {type_id}](https://en.numista.com/catalogue/pieces{type_id}.html){issue}.")
        if st.button("Unlink from Numista", key=f"numista_unlink_{item_id}"):
            try:
                with context.session() as session:
                    clear_numista_link(session, actor.id, item_id, version)
            except VitrineError as error:
                st.error(error.message)
            else:
                cache.invalidate()
                st.rerun()
    else:
        st.caption("Not linked to Numista yet: search its catalogue and pick the type.")
    if not connected:
        st.info("Connect Numista on the Connections page to search its catalogue.")
        return
    results_key = f"numista_results_{item_id}"
    with st.form(f"numista_search_form_{item_id}"):
        title_col, issuer_col, year_col, number_col = st.columns([3, 2, 1, 2])
        q = title_col.text_input("Title", value=query.q or "", key=f"numista_q_{item_id}")
        issuer = issuer_col.text_input("Issuer (country)", value=query.issuer or "", key=f"numista_issuer_{item_id}")
        year = year_col.number_input("Year", value=query.year, step=1, key=f"numista_year_{item_id}")
        number = number_col.text_input("Catalogue no.", value=query.catalogue_number or "", placeholder="KM# 2",
                                       key=f"numista_number_{item_id}")  # fmt: skip
        searched = st.form_submit_button("Search Numista", key=f"numista_search_{item_id}")
    if searched:
        wanted = LinkQuery(q.strip() or None, issuer.strip() or None, int(year) if year is not None else None,
                           number.strip() or None)  # fmt: skip
        with numista_api(context, actor.id) as api:
            try:
                result = find_numista_types(NumistaCatalog(api), item_id, wanted)
            except (VitrineError, ServiceError) as error:
                st.error(error.message)
            else:
                st.session_state[results_key] = [
                    {"id": int(t["id"]), "label": f"N# {t['id']} · {t.get('title')} · "
                     f"{(t.get('issuer') or {}).get('name', '?')} · {_years(t)}"}
                    for t in result.types if t.get("id") is not None
                ]  # fmt: skip
                st.caption(f"{result.count} type(s) on Numista"
                           + (" (from the cache, no call spent)" if result.from_cache else ""))  # fmt: skip
    results = st.session_state.get(results_key)
    if results is None:
        return
    if not results:
        st.info("No Numista type matches; change the search.")
        return
    labels = {r["id"]: r["label"] for r in results}
    pick = st.radio("Pick the type", list(labels), format_func=labels.__getitem__, key=f"numista_pick_{item_id}",
                    index=None)  # nothing preselected: one careless click must not link the wrong coin
    if st.button("Link to this type", key=f"numista_link_{item_id}", type="primary", disabled=pick is None):
        with numista_api(context, actor.id) as api:
            try:
                linked = set_numista_link(NumistaCatalog(api), item_id, int(pick), expected_version=version)
            except (VitrineError, ServiceError) as error:
                st.error(error.message)
                return
        issue_text = (f" and issue {linked.issue_id} (its year)" if linked.issue_id is not None
                      else "; its issue could not be chosen from the year")  # fmt: skip
        st.session_state[_FLASH] = f"Linked to N# {linked.type_id}{issue_text}."
        st.session_state.pop(results_key, None)
        cache.invalidate()
        st.rerun()
