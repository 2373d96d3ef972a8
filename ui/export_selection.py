"""Collection page → Export page: "Send to export" on a selection opens the export wizards with those items
chosen (coins in the Numista wizard, records in the Discogs one); the items a service cannot take are listed
with the reason. The split is computed by services.export_selection; this module only carries it in the
session state (the Export page is another page of the same session) and shows it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from services.context import AppContext
from services.export_selection import ExportSelection, split_for_export
from services.labels import SERVICE_LABELS
from ui.session import Actor

PRESELECTION = "export_from_collection"  # the ExportSelection the Export page shows
EXPORT_PAGE = "pages/export.py"
# What each wizard reads: the ids to preselect and the key that rebuilds its picker with them.
WIZARD_KEYS = {"numista": ("export_selection", "export_pick_version", "export_default_push"),
               "discogs": ("discogs_preselected", "discogs_pick_version", "discogs_default_push")}  # fmt: skip


def preselect(selection: ExportSelection) -> None:
    """Hand a split selection to the export wizards: each starts its picker again with these items chosen."""
    state = st.session_state
    state[PRESELECTION] = selection
    for service, (chosen_key, version_key, default_key) in WIZARD_KEYS.items():
        state[chosen_key] = list(selection.for_service(service).eligible)
        state[version_key] = state.get(version_key, 0) + 1
        state.pop(default_key, None)
    state["export_step"] = "select"
    state.pop("discogs_review_plan", None)


def send_to_export_button(context: AppContext, actor: Actor, item_ids: list[int]) -> None:
    """The Collection page's "Send to export" for the selected rows."""
    if st.button("Send to export", key="collection_send_to_export", icon=":material/cloud_upload:",
                 help="Open the export wizard with the selected coins and records chosen"):  # fmt: skip
        with context.session() as session:
            selection = split_for_export(session, actor.id, item_ids)
        preselect(selection)
        st.switch_page(EXPORT_PAGE)


def preselection_notice() -> None:
    """On the Export page: what came from the Collection page, and what cannot be sent and why."""
    selection: ExportSelection | None = st.session_state.get(PRESELECTION)
    if selection is None:
        return
    with st.container(border=True, key="export_preselection"):
        parts = [f"{len(entry.eligible)} for {SERVICE_LABELS.get(entry.service, entry.service)}"
                 for entry in selection.services if entry.eligible]  # fmt: skip
        st.markdown("**From your Collection selection:** " + (", ".join(parts) or "nothing that can be exported")
                    + ". They are chosen below.")  # fmt: skip
        left_out = [{"#": item.item_id, "title": item.title, "service": SERVICE_LABELS.get(entry.service, ""),
                     "why it cannot be chosen": item.reason}
                    for entry in selection.services for item in entry.ineligible]  # fmt: skip
        left_out += [{"#": item.item_id, "title": item.title, "service": "", "why it cannot be chosen": item.reason}
                     for item in selection.unsupported]  # fmt: skip
        if left_out:
            st.caption(f"{len(left_out)} selected item(s) cannot be exported:")
            st.dataframe(pd.DataFrame(left_out), hide_index=True, key="export_preselection_left_out")
        if st.button("Clear this selection", key="export_preselection_clear"):
            for chosen_key, _version_key, _default_key in WIZARD_KEYS.values():
                st.session_state.pop(chosen_key, None)
            st.session_state.pop(PRESELECTION, None)
            st.rerun()
