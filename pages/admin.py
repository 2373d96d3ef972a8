"""Admin (club mode, admins only): members, roles, password resets, the sign-in log and club-wide figures.

The figures are sums and counts over the whole club; nothing here lists or names a member's items.
"""

import pandas as pd
import streamlit as st

from services.accounts import members
from services.accounts.signin import recent_events
from services.errors import VitrineError
from ui.session import app_context, current_actor, money

actor = current_actor()
context = app_context()
if not actor.is_admin:  # not in this member's navigation; refused here too, whatever the route
    st.error("This page is for the club's admins.")
    st.stop()

st.title("Admin")

with context.session() as session:
    figures = members.club_figures(session, actor.currency)
    rows = members.list_members(session)
    events = recent_events(session, limit=200)

st.subheader("The club")
columns = st.columns(4)
members_help = f"{figures.members} in all, {figures.admins} admins"
columns[0].metric("Members", f"{figures.active_members} active", help=members_help)
columns[1].metric("Total value", money(figures.total_value, figures.currency))
columns[2].metric("Jobs running", figures.jobs_running)
columns[3].metric("Numista calls this month", figures.numista_calls_this_month)
if figures.items_by_kind:
    st.caption("Items per kind (copies, all members together)")
    st.dataframe(pd.Series(figures.items_by_kind, name="copies"), key="admin_items_by_kind")


def _run(action, success: str) -> None:  # type: ignore[no-untyped-def]
    """One admin action in one transaction; its one-line error otherwise."""
    try:
        with context.session() as session:
            shown = action(session)
    except VitrineError as error:
        st.session_state["admin_message"] = ("error", error.message)
    else:
        if shown:
            success += f" Temporary password (shown once, hand it over privately): `{shown}`"
        st.session_state["admin_message"] = ("success", success)
    st.rerun()


message = st.session_state.pop("admin_message", None)
if message:
    (st.error if message[0] == "error" else st.success)(message[1])

st.subheader("Members")
st.dataframe(
    pd.DataFrame([row.to_json() for row in rows]).drop(columns=["id"]), hide_index=True, key="admin_members"
)

st.subheader("Add a member")
with st.form("admin_add", clear_on_submit=True):
    new_name = st.text_input("Username", key="admin_add_name")
    new_password = st.text_input(
        "Password (leave empty to invite: a temporary password is made, to change at first sign-in)",
        type="password", key="admin_add_password",
    )  # fmt: skip
    new_admin = st.checkbox("Admin", key="admin_add_admin")
    if st.form_submit_button("Add member"):
        _run(
            lambda s: members.add_member(s, new_name.strip(), new_password or None, admin=new_admin,
                                         currency=context.settings.currency)[1],
            f"Added {new_name.strip()}.",
        )  # fmt: skip

st.subheader("Manage a member")
chosen = st.selectbox("Member", [row.username for row in rows], key="admin_member")
row = next((r for r in rows if r.username == chosen), None)
if row is not None:
    st.caption(
        f"{row.role}, {'active' if row.active else 'disabled'}{', locked out' if row.locked else ''}"
        f"{', must change password' if row.must_change_password else ''}"
    )
    toggle, reset, role = st.columns(3)
    if toggle.button("Enable" if not row.active else "Disable", key="admin_toggle"):
        _run(lambda s: members.set_active(s, row.id, not row.active) and None,
             f"{row.username} {'enabled' if not row.active else 'disabled and signed out'}.")  # fmt: skip
    if reset.button("Reset password", key="admin_reset"):
        _run(lambda s: members.set_password(s, row.id), f"{row.username} must choose a new password at sign-in.")
    new_role = "member" if row.role == "admin" else "admin"
    if role.button("Make member" if row.role == "admin" else "Make admin", key="admin_role"):
        _run(lambda s: members.set_role(s, row.id, new_role) and None, f"{row.username} is now {new_role}.")

st.subheader("Sign-in log")
st.caption("Sign-ins, failures, lockouts and sign-outs; never a password, and only members' names.")
st.dataframe(
    pd.DataFrame([{"at": e.at, "member": e.username or "(unknown name)", "event": e.event, "via": e.channel}
                  for e in events]),
    hide_index=True, key="admin_events",
)  # fmt: skip
