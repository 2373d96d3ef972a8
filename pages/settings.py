"""Settings: your currency, and how this instance is configured."""

import streamlit as st

from services.accounts.users import set_currency
from services.errors import VitrineError
from services.pricing import FX_TO_EUR
from ui import cache
from ui.api_tokens import api_tokens_section
from ui.numista_grades import grade_overrides_editor
from ui.session import Actor, app_context, current_actor

actor = current_actor()
context = app_context()
settings = context.settings
st.title("Settings")

st.subheader("Display currency")
currencies = sorted(FX_TO_EUR)
currency = st.selectbox(
    "Show values in",
    currencies,
    index=currencies.index(actor.currency) if actor.currency in currencies else 0,
    key="settings_currency",
)
if currency != actor.currency and st.button("Save currency", key="save_currency"):
    try:
        with context.session() as session:
            set_currency(session, actor.id, currency)
        st.session_state["actor"] = Actor(actor.id, actor.username, actor.is_admin, currency)
        cache.invalidate()
        st.rerun()
    except VitrineError as error:
        st.error(error.message)

st.subheader("Coin grades → Numista")
grade_overrides_editor(context, actor)

st.subheader("API tokens")
api_tokens_section(context, actor)

st.subheader("This instance")
st.table(
    {
        "setting": ["Mode", "Database", "Signed in as"],
        "value": [
            settings.mode,
            repr(settings).split("database_url=")[1].split(",")[0].strip("'"),
            actor.username,
        ],
    }
)
