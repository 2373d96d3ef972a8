"""Link records to Discogs: each record without a Discogs release, a search of Discogs' catalogue from its title
(or its catalogue number), a pick list of the releases found, and Link. A record needs its release to be valued
and pushed to a collection folder, the wantlist or the marketplace. Nothing is linked without a choice; each
search is one call on the member's Discogs account (services/integrations/discogs/catalog.py)."""

from __future__ import annotations

import streamlit as st

from services.errors import VitrineError
from services.http import ServiceError
from services.integrations.discogs import oauth
from services.integrations.discogs.catalog import (
    RecordToLink,
    SearchHit,
    link_release,
    records_to_link,
    search_releases,
)
from ui import cache
from ui.session import app_context, current_actor

PER_PAGE = 20
_FLASH = "discogs_link_flash"

actor = current_actor()
context = app_context()
st.title("Link records to Discogs")
st.caption(
    "A record needs its Discogs release to be valued and sent to Discogs. Search Discogs for each record, pick "
    "the release you hold, and link it. Each search is one call to Discogs with your account."
)
flash = st.session_state.pop(_FLASH, None)
if flash:
    st.success(flash)

with context.session() as session:
    connected = oauth.connection_info(session, actor.id) is not None
    records, total = records_to_link(session, actor.id, limit=PER_PAGE)
if not connected:
    st.info("Connect your Discogs account first: its catalogue is searched with your account.")
    st.page_link("pages/connections.py", label="Open Connections", icon=":material/link:")
    st.stop()
if not records:
    st.success("Every record you have is linked to a Discogs release. Send them from the Export page.")
    st.page_link("pages/export.py", label="Open Export", icon=":material/cloud_upload:")
    st.stop()
shown = f"; the first {len(records)} are below" if total > len(records) else ""
st.caption(f"{total} record(s) without a Discogs release{shown}.")


def _hit_label(hit: SearchHit) -> str:
    facts = [hit.year or "year unknown", ", ".join(hit.labels[:2]), hit.catno or "", ", ".join(hit.formats[:3]),
             hit.country or ""]  # fmt: skip
    return f"{hit.title} ({' · '.join(fact for fact in facts if fact)})"


def _search(record: RecordToLink, words: str, by_catno: bool) -> None:
    """One search, its hits kept for this record until it is linked or searched again."""
    try:
        with context.session() as session, oauth.member_api(session, context.settings, context.vault, actor.id) as api:
            hits = search_releases(api, None if by_catno else words, catno=record.catno if by_catno else None)
    except (VitrineError, ServiceError) as error:
        st.error(error.message)
        return
    st.session_state[f"discogs_hits_{record.item_id}"] = hits


def _link(record: RecordToLink, hit: SearchHit) -> None:
    try:
        with context.session() as session, oauth.member_api(session, context.settings, context.vault, actor.id) as api:
            link_release(session, api, actor.id, record.item_id, hit.release_id)
            session.commit()
    except (VitrineError, ServiceError) as error:
        st.error(error.message)
        return
    st.session_state.pop(f"discogs_hits_{record.item_id}", None)
    st.session_state[_FLASH] = f"Linked “{record.title}” to Discogs release {hit.release_id}."
    cache.invalidate()
    st.rerun()


for record in records:
    with st.container(border=True, key=f"discogs_record_{record.item_id}"):
        st.markdown(f"**{record.title}**" + (f" · {record.year}" if record.year else ""))
        words_col, catno_col = st.columns([3, 1], vertical_alignment="bottom")
        words = words_col.text_input("Search Discogs for", value=record.query, key=f"discogs_words_{record.item_id}")
        if words_col.button("Search", key=f"discogs_search_{record.item_id}", disabled=not words.strip()):
            _search(record, words, by_catno=False)
        if record.catno and catno_col.button(f"Search catalogue number {record.catno}",
                                             key=f"discogs_search_catno_{record.item_id}"):  # fmt: skip
            _search(record, words, by_catno=True)
        hits: list[SearchHit] | None = st.session_state.get(f"discogs_hits_{record.item_id}")
        if hits is None:
            continue
        if not hits:
            st.info("Discogs found nothing for that search: try fewer words, or the catalogue number.")
            continue
        by_id = {hit.release_id: hit for hit in hits}
        choice = st.radio(f"{len(hits)} release(s) found", list(by_id), index=None,
                          format_func=lambda release_id, by_id=by_id: _hit_label(by_id[release_id]),
                          key=f"discogs_pick_{record.item_id}")  # fmt: skip
        if st.button("Link", key=f"discogs_link_{record.item_id}", type="primary", disabled=choice is None):
            _link(record, by_id[int(choice)])  # type: ignore[arg-type]
