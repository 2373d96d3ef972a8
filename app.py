"""Vitrine: the entry point. Navigation, the login gate (club mode) and the per-role page list."""

from __future__ import annotations

import streamlit as st

from services.accounts import authenticate
from ui.session import Actor, app_context, local_actor
from ui.sync_worker import background_worker

st.set_page_config(page_title="Vitrine", page_icon=":material/museum:", layout="wide")

# Each url_path equals its file's name: on a fresh server Streamlit's legacy pages/ mode routes the very first
# request by file name before app.py has run (see ui.session.current_actor).
PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", url_path="overview", default=True),
    st.Page("pages/collection.py", title="Collection", icon=":material/inventory_2:", url_path="collection"),
    st.Page("pages/sets.py", title="Sets", icon=":material/grid_view:", url_path="sets"),
    st.Page("pages/catalog.py", title="Catalog", icon=":material/search:", url_path="catalog"),
    st.Page("pages/import.py", title="Import", icon=":material/upload_file:", url_path="import"),
    st.Page("pages/export.py", title="Export", icon=":material/cloud_upload:", url_path="export"),
    st.Page("pages/numista_link.py", title="Link to Numista", icon=":material/join:", url_path="numista_link"),
    st.Page("pages/connections.py", title="Connections", icon=":material/link:", url_path="connections"),
    st.Page("pages/settings.py", title="Settings", icon=":material/settings:", url_path="settings"),
]


def login_form() -> None:
    """Club mode: members sign in with the username and password an admin created for them."""
    st.title("Vitrine")
    with st.form("login", clear_on_submit=False):
        username = st.text_input("Username", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        with app_context().session() as session:
            user = authenticate(session, username, password)
            if user is None:
                st.error("Wrong username or password.")
                return
            st.session_state["actor"] = Actor(user.id, user.username, user.is_admin, user.currency)
        st.rerun()


context = app_context()
background_worker()  # the push worker thread of this server process, started once (ui/sync_worker.py)
if context.settings.club_mode:
    st.set_option("client.showErrorDetails", "none")  # tracebacks never reach members
if context.settings.club_mode and "actor" not in st.session_state:
    st.navigation([st.Page(login_form, title="Sign in", url_path="login")]).run()
else:
    if "actor" not in st.session_state:
        st.session_state["actor"] = local_actor()
    actor: Actor = st.session_state["actor"]
    if context.settings.club_mode:
        with st.sidebar:
            st.caption(f"Signed in as **{actor.username}**")
            if st.button("Sign out", key="logout"):
                del st.session_state["actor"]
                st.rerun()
    navigation = st.navigation(PAGES)
    goto = st.query_params.pop("goto", None)  # set by ui.session.current_actor for a page opened directly
    target = next((page for page in PAGES if page.url_path == goto), None)
    if target is not None:
        st.switch_page(target)
    navigation.run()
