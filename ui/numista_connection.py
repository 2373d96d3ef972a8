"""The Numista part of the Connections page: test the connection, calls used this month, the monthly limit,
and a price refresh for linked coins. UI only: everything goes through services.integrations.numista."""

from __future__ import annotations

import streamlit as st

from services.accounts import connections
from services.context import AppContext
from services.errors import VitrineError
from services.http import ServiceError
from services.integrations.numista.api import numista_api
from services.integrations.numista.catalog import NumistaCatalog, refresh_coin_prices
from services.integrations.numista.connect import replace_key
from services.integrations.numista.quota import quota_status, set_monthly_limit
from services.labels import day, moment
from ui import cache
from ui.session import Actor

_FLASH = "numista_connection_flash"


def replace_numista_key(context: AppContext, actor: Actor, key: str) -> None:
    """Save a new key in place of a working one only once Numista accepted it; else say why, keep the old."""
    with st.spinner("Checking the new key with Numista…"):
        change = replace_key(context, actor.id, key)
    if change.saved:
        check, error = change.check, change.error
        st.session_state[_FLASH] = (
            f"New key saved: Numista user **{check.username}** (id {check.user_id})." if check is not None
            else f"New key saved, but not verified: {error.message if error is not None else 'no answer'}"
        )  # fmt: skip
        st.rerun()
    assert change.error is not None
    kept = " Your previous key is kept and still used." if change.kept_previous else ""
    st.error(change.error.message + kept)


def numista_connection_panel(context: AppContext, actor: Actor) -> None:
    """Render inside the Numista box of the Connections page."""
    flash = st.session_state.pop(_FLASH, None)
    if flash:
        st.success(flash)
    with context.session() as session:
        connected = connections.status(session, context.vault, actor.id, "numista").connected
    if connected:
        test_col, refresh_col = st.columns(2)
        if test_col.button("Test connection", key="numista_test_connection"):
            with numista_api(context, actor.id) as api:
                try:
                    check = api.test_connection()
                except ServiceError as error:
                    st.error(error.message)
                else:
                    renewed = "new token" if check.token_renewed else "token reused"
                    st.success(
                        f"Numista user **{check.username}** (id {check.user_id}) · {renewed}, valid until "
                        f"{moment(check.token_expires_at)} · {check.quota.used:,} of "
                        f"{check.quota.limit:,} calls used in {check.quota.month}"
                    )
        if refresh_col.button("Refresh coin prices", key="numista_refresh_prices",
                              help="Numista estimates of your linked coins whose prices are older than 3 days"):
            with st.spinner("Asking Numista…"), numista_api(context, actor.id) as api:
                report = refresh_coin_prices(NumistaCatalog(api), actor.currency)
            cache.invalidate()
            message = (
                f"Refreshed {len(report.refreshed)} issue(s), {report.fresh} still fresh, "
                f"{report.unlinked} coin(s) not linked; {report.calls} call(s) used."
            )
            (st.warning if report.stopped else st.success)(
                message + (f" Stopped: {report.stopped}" if report.stopped else "")
            )
    with context.session() as session:
        quota = quota_status(session, actor.id)
    used_col, left_col, reset_col = st.columns(3)
    used_col.metric("Numista calls this month", f"{quota.used:,} / {quota.limit:,}")
    left_col.metric("Calls left", f"{quota.remaining:,}")
    reset_col.metric("Resets on", day(quota.resets_on))
    if quota.exhausted:
        st.warning("Numista answered \"Quota exceeded\" this month: Vitrine makes no more calls until "
                   f"{day(quota.resets_on)}. Test connection checks again.")  # fmt: skip
    if not connected:
        return
    with st.form("numista_quota_form"):
        limit = st.number_input("Monthly call limit (free plan: 2,000)", min_value=1, max_value=10_000_000,
                                value=quota.limit, step=100, key="numista_quota_limit")  # fmt: skip
        if st.form_submit_button("Save limit", key="numista_save_limit"):
            try:
                with context.session() as session:
                    set_monthly_limit(session, actor.id, int(limit))
            except VitrineError as error:
                st.error(error.message)
            else:
                st.session_state[_FLASH] = f"Monthly Numista limit set to {int(limit):,} calls."
                st.rerun()
