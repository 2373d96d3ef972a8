"""The Export page's Discogs section: choose records (only those with a release id; the others are listed
with the reason), the target (a collection folder, the wantlist, Draft listings), review, then queue the job
the server's worker pushes. Progress, pause/resume/cancel and "Retry failed" are the page's job panel, shared
with the Numista wizard (it reads ``export_job`` / ``export_step`` from the session state)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from services.context import AppContext
from services.errors import VitrineError
from services.http import ServiceError
from services.integrations.discogs import oauth
from services.integrations.discogs.pusher import (
    TARGETS,
    ExportOptions,
    plan_export,
    selectable_records,
    start_export,
)
from services.labels import sync_label
from services.states import DiscogsTarget, ListingStatus, RowAction, SyncStatus
from services.sync import engine as jobs
from services.validation import parse_money
from ui import cache
from ui.fields import money_input
from ui.session import Actor, app_context

TARGET_LABELS = {DiscogsTarget.COLLECTION: "a collection folder", DiscogsTarget.WANTLIST: "my wantlist",
                 DiscogsTarget.MARKETPLACE: "marketplace listings (Draft)"}  # fmt: skip
PRESELECTED = "discogs_preselected"  # record ids chosen on the Collection page (ui/export_selection.py)


@st.cache_data(ttl=600, show_spinner="Asking Discogs for your folders…")
def _folders(owner_id: int) -> list[dict[str, Any]]:
    context = app_context()
    with context.session() as session, oauth.member_api(session, context.settings, context.vault, owner_id) as api:
        return [{"id": int(f["id"]), "name": str(f.get("name") or f["id"])} for f in api.folders() if int(f["id"])]


def discogs_export_section(context: AppContext, actor: Actor) -> None:
    st.header("Push records to Discogs")
    with context.session() as session:
        connected = oauth.connection_info(session, actor.id) is not None
        records = selectable_records(session, actor.id)
        ledger = {service: jobs.ledger_rows(session, service, [r.id for r in records])
                  for service in TARGETS.values()}  # fmt: skip
    if not connected:
        st.info("Connect Discogs first on the Connections page.")
        return
    if not records:
        st.info("You have no records yet: import them from Discogs or a Discogs CSV export.")
        return
    target = st.radio("Send them to", list(TARGETS), format_func=TARGET_LABELS.get, horizontal=True,
                      key="discogs_export_target")  # fmt: skip
    service = TARGETS[target]
    linked = [r for r in records if r.discogs_release_id]
    unlinked = [r for r in records if not r.discogs_release_id]
    if st.button("Select all", key="discogs_select_all"):
        st.session_state["discogs_pick_version"] = st.session_state.get("discogs_pick_version", 0) + 1
        st.session_state["discogs_default_push"] = True
    default = bool(st.session_state.get("discogs_default_push"))
    preselected = set(st.session_state.get(PRESELECTED, []))
    frame = pd.DataFrame([
        {"push": default or r.id in preselected, "id": r.id, "title": r.title, "release": r.discogs_release_id,
         "media": r.grade_code or "",
         "sync": sync_label(ledger[service][r.id].status if r.id in ledger[service] else SyncStatus.NOT_SYNCED)}
        for r in linked
    ])  # fmt: skip
    chosen: list[int] = []
    if not frame.empty:
        version = st.session_state.get("discogs_pick_version", 0)
        edited = st.data_editor(frame, hide_index=True, key=f"discogs_pick_{target}_{version}",
                                disabled=["id", "title", "release", "media", "sync"])  # fmt: skip
        chosen = [int(v) for v in edited.loc[edited["push"].fillna(False).astype(bool), "id"]]
    if unlinked:
        with st.expander(f"{len(unlinked)} record(s) cannot be chosen"):
            st.dataframe(pd.DataFrame([{"id": r.id, "title": r.title, "why": "no Discogs release id: link it on the "
                                        "Link to Discogs page"} for r in unlinked]),
                         hide_index=True, key="discogs_unlinked")  # fmt: skip
    folder_id, another, status, price, refused = 1, False, ListingStatus.DRAFT, None, False
    if target == DiscogsTarget.COLLECTION:
        try:
            folders = _folders(actor.id)
        except (ServiceError, VitrineError) as error:
            st.warning(f"Could not list your folders: {error}")
            folders = [{"id": 1, "name": "Uncategorized"}]
        names = {f["id"]: f["name"] for f in folders}
        folder_id = st.selectbox("Folder", list(names), index=list(names).index(1) if 1 in names else 0,
                                 format_func=lambda fid: f"{names[fid]} (#{fid})", key="discogs_folder")  # fmt: skip
        another = st.checkbox("Add another copy when the release is already in my collection",
                              key="discogs_another_copy")  # fmt: skip
    if target == DiscogsTarget.MARKETPLACE:
        status = st.radio("Listing status", list(ListingStatus), horizontal=True, key="discogs_listing_status")
        typed = money_input("Price for every listing (empty: Discogs' suggestion for each condition)",
                            placeholder="Discogs' suggestion", key="discogs_price")  # fmt: skip
        try:
            price = parse_money(typed, name="listing price")
            ExportOptions(target, int(folder_id), another, status, price).validate()  # e.g. a price of 0
        except VitrineError as error:
            st.error(error.message)
            price, refused = None, True
    options = ExportOptions(target, int(folder_id), another, status, price)
    if st.button(f"Review {len(chosen)} record(s)", key="discogs_review", disabled=not chosen or refused):
        st.session_state["discogs_review_plan"] = (chosen, options)
    review = st.session_state.get("discogs_review_plan")
    if review and (refused or review != (chosen, options)):  # what was reviewed is no longer what is asked
        st.session_state.pop("discogs_review_plan", None)  # review again: Push never sends an older price or choice
        review = None
    if not review:
        return
    with context.session() as session:
        plan = plan_export(session, actor.id, review[0], review[1])
    st.dataframe(pd.DataFrame([row.to_json() for row in plan]).drop(columns=["remoteId", "status"]),
                 hide_index=True, key="discogs_plan")  # fmt: skip
    pushes = sum(1 for row in plan if row.action != RowAction.SKIP)
    if st.button(f"Push {pushes} record(s) to Discogs", key="discogs_confirm", type="primary", disabled=not pushes):
        try:
            with context.session() as session:
                job_id = start_export(session, actor.id, plan, review[1])
        except VitrineError as error:
            st.error(error.message)
            return
        cache.invalidate()
        st.session_state.pop("discogs_review_plan", None)
        st.session_state.pop(PRESELECTED, None)  # queued: a later visit starts from an empty choice
        st.session_state["export_job"], st.session_state["export_step"] = job_id, "progress"
        st.rerun()
