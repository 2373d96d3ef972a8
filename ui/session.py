"""The process-wide app context and the acting user of this browser session."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from services.accounts import ensure_local_user
from services.config import SettingsError
from services.context import AppContext, open_context


@dataclass(frozen=True)
class Actor:
    """Who is using this session; pages pass `actor.id` to every service call."""

    id: int
    username: str
    is_admin: bool
    currency: str


@st.cache_resource(show_spinner=False)
def _open_app_context() -> AppContext:
    context = open_context()  # the environment and the same secrets.toml files Streamlit reads
    _ = context.engine  # migrate once per process, before the first page renders
    return context


def app_context() -> AppContext:
    """The process's context. A malformed setting is one line on the page, and nothing else runs."""
    try:
        return _open_app_context()
    except SettingsError as error:
        st.error(error.message)
        st.stop()


def local_actor() -> Actor:
    context = app_context()
    with context.session() as session:
        user = ensure_local_user(session, context.settings.currency)
        return Actor(user.id, user.username, user.is_admin, user.currency)


def current_actor() -> Actor:
    """The signed-in user. A page run without app.py having set one (app.py turns Streamlit's legacy pages/ mode
    off when the server starts; this guards a page run any other way) is sent to the entry point, which signs in
    (club mode) or sets the local owner and routes from there."""
    actor = st.session_state.get("actor")
    if actor is None:
        requested = (st.context.url or "").rstrip("/").rsplit("/", 1)[-1]
        st.switch_page("app.py", query_params={"goto": requested})
    return actor


def money(amount: float, currency: str) -> str:
    return f"{amount:,.2f} {currency}"
