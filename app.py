"""Vitrine: the entry point. Navigation, the login gate (club mode) and the per-role page list."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from services.config import cookie_key_problem
from ui.session import Actor, app_context, local_actor

if __name__ == "__main__":  # a browser session's run; see the end of this file for the server's import
    # Imported only inside a script run: a custom component (streamlit-authenticator's cookie manager, from
    # extra_streamlit_components) registers its frontend with the runtime when its module is first imported,
    # and only if a script run is active; imported by the server's app discovery it is never served (404).
    from ui.auth import (
        authenticator,
        cookie_pending,
        current_member,
        forced_password_change,
        sign_in_form,
        sign_out_button,
    )
    from ui.sync_worker import background_worker

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
    CONNECTIONS := st.Page("pages/connections.py", title="Connections", icon=":material/link:", url_path="connections"),
    st.Page("pages/settings.py", title="Settings", icon=":material/settings:", url_path="settings"),
]


ADMIN_PAGES = [
    st.Page("pages/admin.py", title="Admin", icon=":material/admin_panel_settings:", url_path="admin"),
]


def _only(title: str, body: Callable[[], object] = lambda: None) -> None:
    """A run that shows no member page (signed out, signing in, setup error): one page, nothing to navigate.

    It takes the url_path of the page the browser asked for, so the URL stays put and, once signed in, the
    member lands on that page (Streamlit routes by a hash of the url_path)."""
    asked = (st.context.url or "").split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    known = {page.url_path for page in PAGES + ADMIN_PAGES}
    st.navigation([st.Page(body, title=title, url_path=asked if asked and asked in known else "overview")]).run()


def signing_in() -> None:
    st.info("Signing in…")
    st.button("Continue", key="signing_in_continue")  # if the browser never reports the cookie written


def club_gate() -> bool:
    """Club mode: sign-in with streamlit-authenticator's widgets and cookie, checked against the database on
    every rerun (ui/auth.py). True when a member may see the pages in this run."""
    problem = cookie_key_problem(context.settings.cookie_key)
    if problem:  # a club instance does not start with a missing, short or placeholder cookie key
        _only("Vitrine", lambda: st.error(problem))
        return False
    auth = authenticator(context)
    member = current_member(context, auth)
    if member is None:
        member = sign_in_form(context, auth)
        if member is None:
            _only("Sign in")
            return False
    if cookie_pending():  # signed in by password this run: the cookie component reruns the app once written
        _only("Sign in", signing_in)
        return False
    with st.sidebar:
        st.caption(f"Signed in as **{member.username}**")
    if sign_out_button(context, auth):
        _only("Signed out", lambda: st.info("You are signed out."))
        return False
    if member.must_change_password:
        _only("Choose your password", lambda: forced_password_change(context, auth, member))
        return False
    return True


if __name__ != "__main__":
    # `streamlit run app.py` finds this ASGI app (Streamlit's app discovery), imports this file once as the module
    # `app`, outside any script run, and serves: the dashboard (this same file, run as __main__ for each browser
    # session) + the REST API. So this import loads nothing that declares a custom component (see the top).
    from services.api.server import api_routes

    app = st.App(__file__, routes=api_routes(app_context))
else:
    st.set_page_config(page_title="Vitrine", page_icon=":material/museum:", layout="wide")
    context = app_context()
    background_worker()  # the push worker thread of this server process, started once (ui/sync_worker.py)
    if context.settings.club_mode:
        st.set_option("client.showErrorDetails", "none")  # tracebacks never reach members
    if not context.settings.club_mode or club_gate():
        if "actor" not in st.session_state:
            st.session_state["actor"] = local_actor()
        actor: Actor = st.session_state["actor"]
        navigation = st.navigation(PAGES + (ADMIN_PAGES if context.settings.club_mode and actor.is_admin else []))
        goto = st.query_params.pop("goto", None)  # set by ui.session.current_actor for a page opened directly
        target = next((page for page in PAGES if page.url_path == goto), None)
        if target is not None:
            st.switch_page(target)
        if "oauth_token" in st.query_params and navigation.url_path != CONNECTIONS.url_path:
            # Discogs' return finishes on Connections. A new club session can be routed to the default page on the
            # way (signing in by the cookie), keeping the query: send it on, query and all.
            st.switch_page(CONNECTIONS, query_params=st.query_params.to_dict())
        navigation.run()
