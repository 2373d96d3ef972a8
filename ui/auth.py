"""Club sign-in: streamlit-authenticator's login/logout widgets and re-authentication cookie, with the
database as the only source of truth.

The library (0.4.2) keeps credentials in a dict or a YAML file it rewrites, verifies bcrypt hashes, counts
failures in that dict, and trusts its cookie until it expires. Here:

* its credentials dict starts empty; a member's entry is put there only after *our* check passed
  (services.accounts.signin.sign_in: scrypt hashes, lockout per typed name, sign-in log), or after a cookie
  passed the server-side check; nothing is ever written to a file;
* its cookie (a JWT signed with VITRINE_COOKIE_KEY) also carries the member id and session generation,
  and is accepted only while the member is active and the generation is current; signing out, changing or
  resetting a password and disabling the member raise the generation, so a copied cookie dies with them;
* every rerun re-reads the member (services.accounts.signin.check_session), so a disabled member is signed
  out at their next click and role or currency changes apply at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import jwt
import streamlit as st
import streamlit_authenticator as stauth
from extra_streamlit_components.CookieManager import CookieManager
from extra_streamlit_components.CookieManager import _component_func as cookie_component
from streamlit_authenticator.models import AuthenticationModel, CookieModel
from streamlit_authenticator.models import cookie_model as library_cookie_model
from streamlit_authenticator.utilities import LoginError

from services.accounts import signin
from services.accounts.members import change_own_password
from services.accounts.signin import Member, Outcome
from services.context import AppContext
from services.errors import VitrineError
from ui.session import Actor

COOKIE_NAME = "vitrine_signin"
MEMBER_KEY = "club_member"  # {"id": ..., "generation": ...} of this browser session
COOKIE_PENDING_KEY = "club_cookie_pending"  # signed in by password in this run; its cookie is being written
NOTICE_KEY = "club_notice"  # one message for the sign-in page (why the member was signed out)
_LIBRARY_STATE = ("name", "username", "authentication_status", "email", "roles")


class SignInRefused(LoginError):
    """Locked out: shown as is (the same words whether or not the name exists)."""


class _DatabaseCredentials(AuthenticationModel):
    """The library's authentication model, verifying against the database instead of its dict."""

    context: AppContext

    def check_credentials(self, username: str, password: str) -> bool:
        with self.context.session() as session:
            result = signin.sign_in(session, username, password)
        if result.outcome is Outcome.LOCKED:
            raise SignInRefused(result.message)
        if result.member is None:
            return False
        self._admit(username, result.member)
        st.session_state[COOKIE_PENDING_KEY] = True
        return True

    def login(  # the library's signature (0.4.2)
        self, username: str | None = None, password: str | None = None, max_concurrent_users: int | None = None,
        max_login_attempts: int | None = None, token: dict[str, Any] | None = None, single_session: bool = False,
        callback: Any = None,
    ) -> Any:  # fmt: skip
        if token and not username:  # the re-authentication cookie: check it against the database first
            member = self._member_from_cookie(token)
            if member is None:  # refused and logged once: the library ignores the cookie for this session now
                st.session_state["logout"] = True
                return None
            self._admit(token["username"], member)
        return super().login(
            username, password, max_concurrent_users, max_login_attempts, token, single_session, callback
        )

    def _member_from_cookie(self, token: dict[str, Any]) -> Member | None:
        user_id, generation = token.get("uid"), token.get("gen")
        with self.context.session() as session:
            member = None
            if isinstance(user_id, int) and isinstance(generation, int):
                member = signin.check_session(session, user_id, generation)
            if member is None:
                signin.refuse_session(session, user_id if isinstance(user_id, int) else None)
        return member

    def _admit(self, username: str, member: Member) -> None:
        """What the library needs to finish its login, and what our gate checks on every rerun."""
        self.credentials["usernames"][username] = {
            "name": member.username, "email": None, "roles": ["admin" if member.is_admin else "member"],
        }  # fmt: skip
        st.session_state[MEMBER_KEY] = {"id": member.id, "generation": member.generation}


class _QuietCookieManager(CookieManager):
    """The library's cookie manager without its "read every cookie" component.

    The library reads its cookie from the request's headers (st.context.cookies), yet builds a manager whose
    constructor renders a component that reports the browser's cookies once mounted, and so reruns every new
    session once: a new tab's first run was cut short by it (under load, after the page had been chosen, and
    the rerun named the app's script rather than the page: the member landed on Overview), and a sign-in form
    typed into meanwhile was wiped. Only writing and deleting the cookie need a component, rendered when done."""

    def __init__(self, key: str = "init") -> None:  # the library's signature; renders nothing
        self.cookie_manager = cookie_component
        self.cookies: dict[str, Any] = {}

    def delete(self, cookie: str, key: str = "delete") -> None:
        self.cookie_manager(method="delete", cookie=cookie, key=key, default=False)
        self.cookies.pop(cookie, None)


# The library's cookie model builds its manager as `stx.CookieManager()` in the Authenticate constructor.
library_cookie_model.stx = SimpleNamespace(CookieManager=_QuietCookieManager)  # type: ignore[attr-defined]


class _MemberCookie(CookieModel):
    """The library's cookie, also carrying the member id and session generation; any bad token is refused.

    SameSite=Lax (the library asks for Strict) so the return from Discogs' or Numista's authorisation page,
    a top-level navigation from their site, still carries it; Secure whenever the club is served over HTTPS."""

    def set_cookie(self) -> None:
        if self.cookie_expiry_days != 0:
            self.exp_date = self._set_exp_date()
            self.cookie_manager.set(
                self.cookie_name, self._token_encode(), same_site="lax",
                expires_at=datetime.now() + timedelta(days=self.cookie_expiry_days),
                secure=True if (st.context.url or "").startswith("https:") else None,
            )  # fmt: skip

    def _token_encode(self) -> str:
        member = st.session_state[MEMBER_KEY]
        payload = {
            "username": st.session_state["username"], "exp_date": self.exp_date,
            "uid": member["id"], "gen": member["generation"],
        }  # fmt: skip
        return jwt.encode(payload, self.cookie_key, algorithm="HS256")

    def _token_decode(self) -> dict[str, Any] | bool:
        try:
            return jwt.decode(self.token, self.cookie_key, algorithms=["HS256"])
        except jwt.PyJWTError:
            return False


def authenticator(context: AppContext) -> stauth.Authenticate:
    """The library's authenticator for this run, reading its cookie from the request (see _QuietCookieManager)."""
    auth = stauth.Authenticate(
        {"usernames": {}}, COOKIE_NAME, context.settings.cookie_key or "", context.settings.cookie_expiry_days,
        auto_hash=False, login_sleep_time=0,  # its sleep waited for the component _QuietCookieManager leaves out
    )  # fmt: skip
    model = auth.authentication_controller.authentication_model
    model.__class__ = _DatabaseCredentials
    model.context = context  # type: ignore[attr-defined]
    auth.cookie_controller.cookie_model.__class__ = _MemberCookie
    return auth


def _forget_session(notice: str | None = None) -> None:
    """This browser session is signed out (the library ignores its cookie for the rest of the session)."""
    st.session_state.pop(MEMBER_KEY, None)
    st.session_state.pop("actor", None)
    for key in _LIBRARY_STATE:
        st.session_state[key] = None
    st.session_state["logout"] = True
    if notice:
        st.session_state[NOTICE_KEY] = notice


def current_member(context: AppContext, auth: stauth.Authenticate) -> Member | None:
    """The member of this session, re-checked in the database on every rerun; a refused one is signed out."""
    held = st.session_state.get(MEMBER_KEY)
    if held is None or not st.session_state.get("authentication_status"):
        return None
    with context.session() as session:
        member = signin.check_session(session, held["id"], held["generation"])
        if member is None:
            signin.refuse_session(session, held["id"])
    if member is None:  # the browser's cookie is left alone: it may be a newer one, another tab's sign-in
        _forget_session("Your session has ended. Please sign in again.")
        return None
    st.session_state["actor"] = Actor(member.id, member.username, member.is_admin, member.currency)
    return member


def sign_in_form(context: AppContext, auth: stauth.Authenticate) -> Member | None:
    """The library's login widget; returns the member when this run signed them in (password or cookie)."""
    notice = st.session_state.get(NOTICE_KEY)
    if notice and not st.session_state.get("authentication_status"):
        st.info(notice)
    try:
        auth.login(
            location="main", key="login",
            fields={"Form name": "Sign in to Vitrine", "Username": "Username", "Password": "Password",
                    "Login": "Sign in"},
        )  # fmt: skip
    except SignInRefused as refused:
        st.error(str(refused))
        return None
    if st.session_state.get("authentication_status") is False:
        st.error(signin.SignInResult(Outcome.WRONG).message)
        return None
    if not st.session_state.get("authentication_status"):
        return None
    st.session_state.pop(NOTICE_KEY, None)
    return current_member(context, auth)


def cookie_pending() -> bool:
    """True once, in the run that signed in by password: the library's cookie component is writing the cookie
    and reruns the app when done, so this run shows no page (a rerun now could lose the cookie)."""
    return bool(st.session_state.pop(COOKIE_PENDING_KEY, False))


def sign_out_button(context: AppContext, auth: stauth.Authenticate) -> bool:
    """The library's logout button in the sidebar; signing out ends every session of the member. True when
    this run signed out (the caller stops rendering; the cookie deletion then reruns the app)."""
    held = st.session_state.get(MEMBER_KEY)

    def end_everywhere(_details: dict[str, Any]) -> None:
        if held is not None:
            with context.session() as session:
                signin.sign_out(session, held["id"])

    auth.logout("Sign out", location="sidebar", key="sign_out", callback=end_everywhere)
    if st.session_state.get("authentication_status"):
        return False
    _forget_session("You are signed out.")
    return True


def change_password_form(context: AppContext, member_id: int, *, forced: bool, key: str) -> int | None:
    """A member chooses a new password; returns the new session generation once changed."""
    with st.form(key):
        current = None if forced else st.text_input("Current password", type="password", key=f"{key}_current")
        new = st.text_input("New password", type="password", key=f"{key}_new")
        again = st.text_input("New password again", type="password", key=f"{key}_again")
        submitted = st.form_submit_button("Change password")
    if not submitted:
        return None
    if new != again:
        st.error("The two new passwords differ.")
        return None
    try:
        with context.session() as session:
            return change_own_password(session, member_id, current, new)
    except VitrineError as error:
        st.error(error.message)
        return None


def forced_password_change(context: AppContext, auth: stauth.Authenticate, member: Member) -> None:
    """After an admin's reset (or an invitation) the member must choose their own password before anything."""
    st.title("Choose your password")
    st.write(f"Welcome, **{member.username}**. Your password was set by an admin; choose your own to continue.")
    generation = change_password_form(context, member.id, forced=True, key="forced_password")
    if generation is not None:
        st.session_state[MEMBER_KEY] = {"id": member.id, "generation": generation}
        auth.cookie_controller.set_cookie()  # a fresh cookie with the new generation (the old one is dead)
        st.success("Password changed. Opening Vitrine…")


def end_own_session(notice: str) -> None:
    """After the member changed their own password: this session ends too; sign in with the new one."""
    _forget_session(notice)
