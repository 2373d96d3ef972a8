"""Club mode through app.py with AppTest: the cookie key gate, sign-in widgets, lockout, a member disabled or
reset while signed in, sign-out, forced and own password changes, and the Admin page (admins only)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from services.accounts import members
from services.context import open_context
from tests.club_support import sign_in, start_club, submit_sign_in

ANN, BOB = "ann's long password", "bob's long password"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def club(club_app_env: str) -> dict[str, int]:
    with open_context().session() as session:
        ann, _ = members.add_member(session, "ann", ANN, admin=True)
        bob, _ = members.add_member(session, "bob", BOB)
        return {"ann": ann.id, "bob": bob.id}


def page_titles(at: AppTest) -> list[str]:
    return [title.value for title in at.title]


@pytest.mark.parametrize("key", [None, "too-short-key", "change-me-please-change-me-please-change-me"])
def test_club_mode_will_not_start_without_a_fit_cookie_key(
    club_app_env: str, monkeypatch: pytest.MonkeyPatch, key: str | None
) -> None:
    if key is None:
        monkeypatch.delenv("VITRINE_COOKIE_KEY")
    else:
        monkeypatch.setenv("VITRINE_COOKIE_KEY", key)
    at = start_club()
    assert at.error and "VITRINE_COOKIE_KEY" in at.error[0].value
    assert not at.text_input and not at.button, "no sign-in form, no page"


def test_sign_in_shows_the_pages_and_sign_out_ends_the_session(club: dict[str, int]) -> None:
    at = start_club()
    assert "Sign in to Vitrine" in [h.value for h in at.subheader]
    sign_in(at, "bob", BOB)
    assert page_titles(at) == ["Overview"]
    assert "Signed in as **bob**" in [c.value for c in at.sidebar.caption]
    generation = at.session_state["club_member"]["generation"]
    at.sidebar.button(key="sign_out").click().run()
    assert not at.exception
    assert "You are signed out." in [i.value for i in at.info]
    with open_context().session() as session:
        from services.accounts.signin import check_session

        assert check_session(session, club["bob"], generation) is None, "bob's cookie is dead now"
    at.run()
    assert [h.value for h in at.subheader] == ["Sign in to Vitrine"] and not at.metric


def _cookie_components(at: AppTest) -> list[str]:
    """The methods of the cookie components this run rendered (each is a browser round trip and a rerun)."""
    return [json.loads(element.proto.json_args)["method"] for element in at.get("component_instance")]


def test_only_writing_or_deleting_the_cookie_renders_a_component(club: dict[str, int]) -> None:
    """The library's "read every cookie" component reran each new session once it had reported (the cookie is
    read from the request): a new tab's rerun landed on Overview whatever page was asked for, and wiped a
    sign-in form typed into meanwhile."""
    at = start_club()
    assert _cookie_components(at) == []
    submit_sign_in(at, "bob", BOB)
    assert _cookie_components(at) == ["set"]
    at.run()
    assert page_titles(at) == ["Overview"] and _cookie_components(at) == []
    at.sidebar.button(key="sign_out").click().run()
    assert _cookie_components(at) == ["delete"]


def test_five_wrong_passwords_lock_the_name_whether_or_not_it_exists(club: dict[str, int]) -> None:
    at = start_club()
    for name in ("bob", "nobody"):
        for _ in range(4):
            submit_sign_in(at, name, "not the password")
            assert at.error[0].value == "Wrong username or password."
        submit_sign_in(at, name, "not the password")
        assert "Too many failed sign-ins" in at.error[0].value
    submit_sign_in(at, "bob", BOB)
    assert "Too many failed sign-ins" in at.error[0].value, "the right password is refused while locked"
    assert not at.metric


def test_member_disabled_while_signed_in_is_refused_on_the_next_rerun(club: dict[str, int]) -> None:
    at = sign_in(start_club(), "bob", BOB)
    assert page_titles(at) == ["Overview"]
    with open_context().session() as session:
        members.set_active(session, club["bob"], False)
    at.run()
    assert "Your session has ended. Please sign in again." in [i.value for i in at.info]
    assert not at.metric and page_titles(at) == []
    assert _cookie_components(at) == [], "the browser's cookie may be newer (another tab's sign-in): left alone"
    submit_sign_in(at, "bob", BOB)
    assert at.error[0].value == "Wrong username or password."


def test_the_admin_page_refusal_is_said_to_the_member_who_asked_only(club: dict[str, int]) -> None:
    at = sign_in(start_club(), "bob", BOB)
    at.query_params["goto"] = "admin"
    at.run()
    refusal = "The Admin page is for the club's admins; here is your Overview."
    assert refusal in [w.value for w in at.warning] and page_titles(at) == ["Overview"]
    at.sidebar.button(key="sign_out").click().run()
    at.run()
    sign_in(at, "ann", ANN)  # the next member on this tab
    assert page_titles(at) == ["Overview"] and refusal not in [w.value for w in at.warning]


def test_reset_password_must_be_changed_at_next_sign_in(club: dict[str, int]) -> None:
    at = sign_in(start_club(), "bob", BOB)
    with open_context().session() as session:
        temporary = members.set_password(session, club["bob"])
    at.run()
    assert "Your session has ended. Please sign in again." in [i.value for i in at.info], "reset ends the session"
    sign_in(at, "bob", temporary)
    assert page_titles(at) == ["Choose your password"]
    at.text_input(key="forced_password_new").input("bob's chosen password")
    at.text_input(key="forced_password_again").input("bob's chosen password")
    at.button[0].click().run()
    assert "Password changed" in at.success[0].value
    at.run()
    assert page_titles(at) == ["Overview"], "still signed in, with the new generation"
    fresh = sign_in(start_club(), "bob", "bob's chosen password")
    assert page_titles(fresh) == ["Overview"]


def test_own_password_change_on_settings_signs_out_everywhere(club: dict[str, int]) -> None:
    at = sign_in(start_club(), "bob", BOB)
    other_tab = sign_in(start_club(), "bob", BOB)
    at.switch_page("pages/settings.py").run()
    at.text_input(key="own_password_current").input(BOB)
    at.text_input(key="own_password_new").input("bob's newer password")
    at.text_input(key="own_password_again").input("bob's newer password")
    next(b for b in at.button if b.label == "Change password").click().run()
    assert not at.exception, at.exception
    assert "Password changed. Sign in with your new password." in [i.value for i in at.info]
    other_tab.run()
    assert "Your session has ended. Please sign in again." in [i.value for i in other_tab.info]
    assert page_titles(sign_in(start_club(), "bob", "bob's newer password")) == ["Overview"]


def test_admin_page_is_for_admins_only(club: dict[str, int]) -> None:
    bob = sign_in(start_club(), "bob", BOB)
    with pytest.raises(Exception):  # noqa: B017  (not in bob's navigation at all)
        bob.switch_page("pages/admin.py").run()
    ann = sign_in(start_club(), "ann", ANN)
    ann.switch_page("pages/admin.py").run()
    assert not ann.exception, ann.exception
    assert page_titles(ann) == ["Admin"]
    assert [m.label for m in ann.metric][:2] == ["Members", "Total value"]


def test_admin_adds_resets_disables_and_promotes(club: dict[str, int]) -> None:
    at = sign_in(start_club(), "ann", ANN)
    at.switch_page("pages/admin.py").run()
    at.text_input(key="admin_add_name").input("carl")
    next(b for b in at.button if b.label == "Add member").click().run()
    assert not at.exception, at.exception
    notice = at.success[0].value
    assert notice.startswith("Added carl. Temporary password")
    temporary = notice.split("`")[1]
    assert page_titles(sign_in(start_club(), "carl", temporary)) == ["Choose your password"]

    at.selectbox(key="admin_member").select("ann").run()
    at.button(key="admin_role").click().run()
    assert "last admin" in at.error[0].value
    at.selectbox(key="admin_member").select("bob").run()
    at.button(key="admin_role").click().run()
    assert at.success[0].value == "bob is now admin."
    at.selectbox(key="admin_member").select("carl").run()
    at.button(key="admin_toggle").click().run()
    assert at.success[0].value == "carl disabled and signed out."
    at.button(key="admin_reset").click().run()
    shown = at.success[0].value.split("`")[1]
    with open_context().session() as session:
        rows = {row.username: row for row in members.list_members(session)}
    assert rows["bob"].role == "admin" and not rows["carl"].active and rows["carl"].must_change_password
    assert shown != temporary
    log = next(frame.value for frame in at.dataframe if "event" in frame.value.columns)
    assert "signed_in" in set(log["event"]) and not log.astype(str).apply(lambda c: c.str.contains(shown)).any().any()


def test_the_servers_import_of_app_py_declares_no_custom_component(club_app_env: str) -> None:
    """`streamlit run app.py` first imports app.py as the module `app` for its st.App (the REST API), outside any
    script run. A custom component declared then (streamlit-authenticator's cookie manager, declared when
    extra_streamlit_components is first imported) is never registered with the runtime: its frontend answers 404,
    the cookie is never read or written and a browser never signs in. That import must declare none."""
    probe = (
        "import streamlit.components.v1 as v1\n"
        "declared = []\n"
        "v1.declare_component = lambda name, *args, **kwargs: declared.append(name)\n"
        "import app\n"
        "assert app.app is not None\n"
        "print('DECLARED', declared)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "DECLARED []" in done.stdout.splitlines(), done.stdout
