"""The Discogs part of the Connections page: Connect Discogs (OAuth 1.0a: request token → Discogs'
authorize page → back here with ``oauth_token``/``oauth_verifier``), a paste-the-code fallback, a personal
access token for a hobbyist without an application registration, identity, and Disconnect. UI only:
everything goes through services.integrations.discogs.oauth. No token is ever put on the page."""

from __future__ import annotations

import streamlit as st

from services.context import AppContext
from services.errors import VitrineError
from services.http import ServiceError
from services.integrations.discogs import oauth
from services.integrations.discogs.catalog import refresh_record_values
from services.labels import moment
from services.states import CredentialKind
from ui import cache
from ui.session import Actor

_FLASH = "discogs_connection_flash"
_PENDING = "discogs_pending_token"


def _callback_url() -> str:
    """This page's own address (Discogs sends the browser back here), or "oob" when unknown."""
    url = str(getattr(st.context, "url", "") or "")
    return url.split("?", 1)[0] if url.startswith("http") else oauth.OUT_OF_BAND


def handle_callback(context: AppContext, actor: Actor) -> None:
    """Finish an authorization Discogs redirected back to this page with (the callback arrives in a new
    browser session: the request token's secret is found server side, bound to this member)."""
    params = st.query_params
    token, verifier = params.get("oauth_token"), params.get("oauth_verifier")
    if not token:
        return
    try:
        with context.session() as session:
            connection = oauth.finish_authorization(session, context.settings, context.vault, actor.id, token,
                                                    verifier or "")  # fmt: skip
    except (VitrineError, ServiceError) as error:
        st.session_state[_FLASH] = ("error", error.message)
    else:
        st.session_state[_FLASH] = ("success", f"Connected to Discogs as {connection.username}.")
    st.query_params.clear()  # the token and verifier never stay in the address bar
    st.rerun()


def discogs_connection_panel(context: AppContext, actor: Actor) -> None:
    """Render inside the Discogs box of the Connections page."""
    flash = st.session_state.pop(_FLASH, None)
    if flash:
        (st.error if flash[0] == "error" else st.success)(flash[1])
    with context.session() as session:
        info = oauth.connection_info(session, actor.id)
    if info is not None:
        how = "OAuth" if info.kind == CredentialKind.OAUTH else "a personal access token"
        since = f" since {moment(info.connected_at)}" if info.connected_at else ""
        st.success(f"Connected as **{info.username}** (Discogs user {info.user_id}) with {how}{since}.")
        if st.button("Refresh record prices", key="discogs_refresh_prices",
                     help="Discogs' price suggestions for your linked records (prices older than 3 days)"):
            with st.spinner("Asking Discogs…"), context.session() as session:
                api = oauth.member_api(session, context.settings, context.vault, actor.id)
                with api:
                    report = refresh_record_values(session, api, actor.id)
            cache.invalidate()
            message = (f"Priced {len(report.refreshed)} release(s), {report.fresh} still fresh, "
                       f"{len(report.without_price)} without a price; {report.calls} call(s).")  # fmt: skip
            (st.warning if report.stopped or report.failed else st.success)(
                message + (f" Stopped: {report.stopped}" if report.stopped else ""))
        if st.button("Disconnect Discogs", key="discogs_disconnect"):
            with context.session() as session:
                oauth.disconnect(session, actor.id)
            st.session_state[_FLASH] = ("success", "Discogs disconnected: its tokens are deleted.")
            st.rerun()
        return
    st.caption("Not connected.")
    if oauth.oauth_configured(context.settings):
        if st.button("Connect Discogs", key="discogs_connect", type="primary"):
            try:
                with context.session() as session:
                    pending = oauth.start_authorization(session, context.settings, context.vault, actor.id,
                                                        _callback_url())  # fmt: skip
            except (VitrineError, ServiceError) as error:
                st.error(error.message)
            else:
                st.session_state[_PENDING] = (pending.request_token, pending.authorize_url)
        pending_pair = st.session_state.get(_PENDING)
        if pending_pair:
            st.link_button("Continue to Discogs to approve Vitrine", pending_pair[1], type="primary")
            st.caption("Discogs sends you back here. If it shows you a verification code instead, paste it below.")
            with st.form("discogs_verifier_form", clear_on_submit=True):
                code = st.text_input("Verification code", key="discogs_verifier")
                if st.form_submit_button("Finish connecting"):
                    try:
                        with context.session() as session:
                            oauth.finish_authorization(session, context.settings, context.vault, actor.id,
                                                       pending_pair[0], code)  # fmt: skip
                    except (VitrineError, ServiceError) as error:
                        st.error(error.message)
                    else:
                        st.session_state.pop(_PENDING, None)
                        st.rerun()
    else:
        st.info(
            "This server has no Discogs application registered, so the Connect button is not available. An "
            f"administrator can register one at {oauth.REGISTER_URL} (callback URL: this page) and set "
            "DISCOGS_CONSUMER_KEY and DISCOGS_CONSUMER_SECRET. Meanwhile you can connect with a personal access "
            "token: Discogs → Settings → Developers → Generate new token."
        )
    with st.form("discogs_token_form", clear_on_submit=True):
        token = st.text_input("Personal access token", type="password", key="discogs_personal_token")
        if st.form_submit_button("Connect with this token"):
            try:
                with context.session() as session:
                    oauth.connect_personal_token(session, context.settings, context.vault, actor.id, token)
            except (VitrineError, ServiceError) as error:
                st.error(error.message)
            else:
                st.rerun()
