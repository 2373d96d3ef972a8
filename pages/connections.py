"""Connections: your own accounts on Numista, Discogs and pokemontcg.io. Keys are stored encrypted and
never shown back in full."""

import streamlit as st

from services.accounts import connections
from services.errors import VitrineError
from ui.discogs_connection import discogs_connection_panel, handle_callback
from ui.numista_connection import numista_connection_panel, replace_numista_key
from ui.session import app_context, current_actor

actor = current_actor()
context = app_context()
settings = context.settings
st.title("Connections")
handle_callback(context, actor)  # Discogs sends the browser back here with oauth_token and oauth_verifier

ENDPOINTS = {
    "numista": settings.numista_api_url,
    "discogs": settings.discogs_api_url,
    "pokemontcg": settings.pokemontcg_api_url,
}
with context.session() as session:
    statuses = {s: connections.status(session, context.vault, actor.id, s) for s in connections.SERVICES}

for service, status in statuses.items():
    with st.container(border=True):
        st.markdown(f"**{service}** · `{ENDPOINTS[service]}`")
        if service == "discogs":
            discogs_connection_panel(context, actor)
            continue
        if status.connected:
            who = f" as {status.remote_user}" if status.remote_user else ""
            st.success(f"Connected{who} · key {status.secret_hint}")
            if st.button("Disconnect", key=f"disconnect_{service}"):
                with context.session() as session:
                    connections.disconnect(session, actor.id, service)
                st.rerun()
        elif status.unreadable:
            st.warning("A key is stored but cannot be decrypted: the secret key (VITRINE_SECRET_KEY) changed. "
                       "Restore the previous secret key, or save the key again.")  # fmt: skip
        else:
            st.caption("Not connected.")
        if service in ("numista", "pokemontcg"):
            with st.form(f"key_form_{service}", clear_on_submit=True):
                key = st.text_input("API key", type="password", key=f"key_{service}")
                if st.form_submit_button("Save key"):
                    try:
                        if service == "numista" and status.connected:
                            replace_numista_key(context, actor, key)  # tested first: a wrong key changes nothing
                        else:
                            with context.session() as session:
                                connections.save_secret(session, context.vault, actor.id, service, key)
                            st.rerun()
                    except VitrineError as error:
                        st.error(error.message)
        if service == "numista":
            numista_connection_panel(context, actor)
