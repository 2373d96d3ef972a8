"""Settings: your currency, and how this instance is configured."""

import streamlit as st

from services.accounts.users import set_currency
from services.errors import VitrineError
from services.exchange_rates import current_rates, refresh_rates
from ui import cache
from ui.api_tokens import api_tokens_section
from ui.auth import change_password_form, end_own_session
from ui.numista_grades import grade_overrides_editor
from ui.session import Actor, app_context, current_actor

actor = current_actor()
context = app_context()
settings = context.settings
st.title("Settings")

st.subheader("Display currency")
rates = current_rates(settings)
currencies = sorted(rates.currencies)
if actor.currency not in currencies:
    st.warning(f"{actor.currency} has no ECB reference rate: values in other currencies are not counted.")
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

st.caption(f"Values are converted at the {rates.description}; the value history uses each price's own day.")
if st.button("Refresh rates from the ECB", key="refresh_rates"):
    with st.spinner("Downloading the ECB reference rates…"):
        refreshed = refresh_rates(settings)
    (st.success if refreshed.refreshed else st.warning)(refreshed.message)
    if refreshed.refreshed:
        cache.invalidate()

if settings.club_mode:
    st.subheader("Your password")
    st.caption("Changing it signs you out everywhere, this browser included; sign in again with the new one.")
    if change_password_form(context, actor.id, forced=False, key="own_password") is not None:
        end_own_session("Password changed. Sign in with your new password.")
        st.rerun()

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
