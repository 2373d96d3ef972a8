"""Vitrine: the entry point. Navigation, the login gate (club mode) and the per-role page list."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from services.config import cookie_key_problem
from services.context import open_context

if __name__ == "__main__":
    # The dashboard's modules, for the script runs only: when `streamlit run` imports this file as the ASGI module
    # `app` there is no script run yet, and streamlit-authenticator's import-time Streamlit calls would each log
    # "missing ScriptRunContext".
    from ui.auth import (
        authenticator,
        cookie_pending,
        current_member,
        forced_password_change,
        sign_in_form,
        sign_out_button,
    )
    from ui.session import Actor, app_context, local_actor
    from ui.sync_worker import background_worker

# (file name in pages/ = url_path, except the default page's: see HOME_URL_PATH; title, icon)
MEMBER_PAGES = [
    ("overview", "Overview", ":material/dashboard:"),
    ("collection", "Collection", ":material/inventory_2:"),
    ("sets", "Sets", ":material/grid_view:"),
    ("catalog", "Catalog", ":material/search:"),
    ("import", "Import", ":material/upload_file:"),
    ("export", "Export", ":material/cloud_upload:"),
    ("numista_link", "Link to Numista", ":material/join:"),
    ("discogs_link", "Link to Discogs", ":material/album:"),
    ("connections", "Connections", ":material/link:"),
    ("settings", "Settings", ":material/settings:"),
]
ADMIN_PAGES = [("admin", "Admin", ":material/admin_panel_settings:")]
DEFAULT_PAGE = "overview"
# The default page's own url_path. Streamlit serves the default page at `/` only: its name in an address is
# "Page not found", in a dialog over the page. So the default page takes a name no address uses, and the same
# page is also served, hidden, under DEFAULT_PAGE's name.
HOME_URL_PATH = "home"


def pages(specs: list[tuple[str, str, str]]) -> list[st.Page]:
    """The st.Page objects, built in the script run that navigates: st.Page needs the run's context (when
    `streamlit run` imports this file as the ASGI module `app`, there is none, only a warning per page)."""
    built = []
    for name, title, icon in specs:
        if name != DEFAULT_PAGE:
            built.append(st.Page(f"pages/{name}.py", title=title, icon=icon, url_path=name))
            continue
        built += [
            st.Page(f"pages/{name}.py", title=title, icon=icon, url_path=HOME_URL_PATH, default=True),
            _overview_at(name),
        ]
    return built


def _overview_at(url_path: str) -> st.Page:
    """The Overview at `/<url_path>`, missing from the sidebar (its link there is `/`). Shown in place, not sent
    on: a page that switched to another one made the browser's Back button land on it again and again."""
    title = next(title for name, title, _icon in MEMBER_PAGES if name == DEFAULT_PAGE)
    return st.Page(f"pages/{DEFAULT_PAGE}.py", title=title, url_path=url_path, visibility="hidden")


def _asked_page() -> str | None:
    """The url_path of the member or admin page in the browser's address, if it names one."""
    asked = (st.context.url or "").split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    return asked if asked in {name for name, _title, _icon in MEMBER_PAGES + ADMIN_PAGES} else None


def _only(title: str, body: Callable[[], object] = lambda: None) -> None:
    """A run that shows no member page (signed out, signing in, setup error): one screen, nothing to navigate.

    The page the browser asked for by address shows that screen under its own url_path (a default page answers
    only at `/`: Streamlit would say the page does not exist, in a dialog over the sign-in form), so the sign-in
    form's rerun still names that page and the member lands on it once signed in."""
    screen = [st.Page(body, title=title, url_path=HOME_URL_PATH, default=True)]
    asked = _asked_page()
    if asked is not None:
        screen.append(st.Page(body, title=title, url_path=asked))
    st.navigation(screen, position="hidden").run()


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
    # `app` and serves: the dashboard (this same file, run as __main__ for each browser session) + the REST API
    # (its own app context: settings and the process's engine, opened on the first API request).
    from streamlit.runtime.pages_manager import PagesManager

    from services.api.nodelay import enable_nodelay_on_listening_sockets
    from services.api.server import api_routes

    # Every request runs this script and its st.navigation. Left unset, the server's first session finds pages/
    # and runs a page asked for by address on its own (Streamlit's legacy pages mode, until an st.navigation call
    # turns it off for the process): that page had to send the browser back here, and a sign-in form shown on
    # the way did not sign in.
    PagesManager.uses_pages_directory = False
    enable_nodelay_on_listening_sockets()  # Streamlit's socket leaves Nagle on: ~40 ms per keep-alive answer
    app = st.App(__file__, routes=api_routes(open_context))
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
        member_pages = pages(MEMBER_PAGES)
        admin_names = {name for name, _title, _icon in ADMIN_PAGES}
        admin_pages = []
        if context.settings.club_mode:  # a member asking for Admin by address gets the Overview, saying why
            admin_pages = pages(ADMIN_PAGES) if actor.is_admin else [_overview_at(name) for name in admin_names]
        navigation = st.navigation(member_pages + admin_pages)
        goto = st.query_params.pop("goto", None)  # set by ui.session.current_actor for a page run without app.py
        target = next((page for page in member_pages + admin_pages if page.url_path == goto), None)
        if target is not None and target.url_path != navigation.url_path:
            st.switch_page(target, query_params=st.query_params.to_dict())  # with its query (Discogs' return)
        if navigation.url_path in admin_names and not actor.is_admin:
            st.warning("The Admin page is for the club's admins; here is your Overview.")
        connections = next(page for page in member_pages if page.url_path == "connections")
        if "oauth_token" in st.query_params and navigation.url_path != connections.url_path:
            # Discogs' return finishes on Connections, wherever the return address led (query and all).
            st.switch_page(connections, query_params=st.query_params.to_dict())
        navigation.run()
