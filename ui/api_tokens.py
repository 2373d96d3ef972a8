"""Settings → API tokens: create (shown once), list and revoke the member's REST API tokens."""

from __future__ import annotations

import streamlit as st

from services.api.tokens import create_token, list_tokens, revoke_token
from services.context import AppContext
from services.errors import VitrineError
from services.labels import moment
from ui.session import Actor

_NEW_TOKEN = "api_token_just_created"


def api_tokens_section(context: AppContext, actor: Actor) -> None:
    st.caption(
        "Tokens let scripts and other apps use the REST API under /api as you (see /api/docs). "
        "Send one as `Authorization: Bearer <token>`."
    )
    created = st.session_state.pop(_NEW_TOKEN, None)
    if created is not None:
        st.success(f"Token **{created['name']}** created. Copy it now: it is not shown again.")
        st.code(created["token"], language=None)
    with st.form("api_token_create", clear_on_submit=True):
        name = st.text_input("Token name", key="api_token_name", placeholder="e.g. spreadsheet")
        if st.form_submit_button("Create token"):
            try:
                with context.session() as session:
                    token = create_token(session, actor.id, name)
                st.session_state[_NEW_TOKEN] = token.to_json()
                st.rerun()
            except VitrineError as error:
                st.error(error.message)
    with context.session() as session:
        tokens = list_tokens(session, actor.id)
    if not tokens:
        st.caption("You have no API token.")
        return
    st.dataframe(
        [
            {
                "id": t.id,
                "name": t.name,
                "starts with": f"{t.prefix}…",
                "created": moment(t.created_at),
                "last used": moment(t.last_used_at) if t.last_used_at else "never",
            }
            for t in tokens
        ],
        hide_index=True,
        key="api_tokens_table",
    )
    labels = {t.id: f"{t.id} · {t.name}" for t in tokens}
    chosen = st.selectbox("Token to revoke", list(labels), format_func=labels.get, key="api_token_revoke_pick")
    if st.button("Revoke token", key="api_token_revoke"):
        try:
            with context.session() as session:
                revoke_token(session, actor.id, chosen)
            st.rerun()
        except VitrineError as error:
            st.error(error.message)
