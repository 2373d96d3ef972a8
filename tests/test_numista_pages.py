"""Numista in the pages (AppTest through app.py, real HTTP to the emulator): Test connection on Connections,
find-on-Numista on Collection, the grade override editor on Settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from services.accounts import ensure_local_user
from services.accounts.connections import save_secret
from services.collection import add_item, get_item
from services.context import open_context
from services.integrations.numista.grade_overrides import grade_overrides
from tests.emulators.numista import DEMO_API_KEY, NumistaEmulator

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def numista_env(app_env: str, numista_emulator: NumistaEmulator, monkeypatch: pytest.MonkeyPatch) -> NumistaEmulator:
    monkeypatch.setenv("NUMISTA_API_URL", numista_emulator.base_url)
    monkeypatch.setenv("HTTP_MAX_RETRIES", "1")
    monkeypatch.setenv("HTTP_BACKOFF_BASE", "0.01")
    return numista_emulator


def _page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for kind in (at.success, at.error, at.warning, at.info, at.markdown, at.caption)
                    for e in kind)  # fmt: skip


def test_test_connection_shows_user_token_and_calls_used(numista_env: NumistaEmulator) -> None:
    at = _page("connections")
    at.text_input(key="key_numista").input(DEMO_API_KEY)
    at.button[0].click().run()  # the numista form's submit
    at.button(key="numista_test_connection").click().run()
    assert not at.exception, at.exception
    shown = " ".join(e.value for e in at.success)
    assert "demo" in shown and "id 2104" in shown and "new token" in shown and "2 of 2,000 calls" in shown
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Numista calls this month"] == "2 / 2,000" and metrics["Calls left"] == "1,998"
    assert DEMO_API_KEY not in _texts(at)


def test_test_connection_with_a_wrong_key_says_so(numista_env: NumistaEmulator) -> None:
    wrong = "numista-wrong-key-9876"
    at = _page("connections")
    at.text_input(key="key_numista").input(wrong)
    at.button[0].click().run()
    at.button(key="numista_test_connection").click().run()
    assert not at.exception, at.exception
    assert at.error and "did not accept your API key" in at.error[0].value
    assert wrong not in _texts(at)


def test_saving_a_wrong_key_over_a_working_one_keeps_the_working_one(numista_env: NumistaEmulator) -> None:
    wrong = "numista-wrong-key-5555"
    at = _page("connections")
    at.text_input(key="key_numista").input(DEMO_API_KEY)
    at.button[0].click().run()
    at.text_input(key="key_numista").input(wrong)
    next(b for b in at.button if b.label == "Save key").click().run()  # Numista checks it before it replaces
    assert not at.exception, at.exception
    assert at.error and "did not accept your API key" in at.error[0].value
    assert "previous key is kept" in at.error[0].value and wrong not in _texts(at)
    assert any(DEMO_API_KEY[-4:] in e.value and "Connected" in e.value for e in at.success)
    at.button(key="numista_test_connection").click().run()
    assert not at.exception, at.exception
    assert any("id 2104" in e.value for e in at.success)


def test_monthly_limit_is_saved(numista_env: NumistaEmulator) -> None:
    at = _page("connections")
    at.text_input(key="key_numista").input(DEMO_API_KEY)
    at.button[0].click().run()
    at.number_input(key="numista_quota_limit").set_value(5000)
    at.button(key="numista_save_limit").click().run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Numista calls this month"] == "0 / 5,000"


def test_find_on_numista_from_the_collection_page(numista_env: NumistaEmulator) -> None:
    context = open_context()
    with context.session() as session:
        owner = ensure_local_user(session)
        coin = add_item(session, owner.id, kind="coin", title="5 Cents 1870", country="Canada", year=1870)
        save_secret(session, context.vault, owner.id, "numista", DEMO_API_KEY)
        coin_id = coin.id
    at = _page("collection")
    at.selectbox(key="edit_item_id").select(coin_id).run()
    assert at.text_input(key=f"numista_q_{coin_id}").value == "5 Cents"
    assert at.text_input(key=f"numista_issuer_{coin_id}").value == "Canada"
    at.button(key=f"numista_search_{coin_id}").click().run()
    assert not at.exception, at.exception
    pick = at.radio(key=f"numista_pick_{coin_id}")
    assert pick.options and "N# 420" in pick.options[0]
    assert pick.value is None and at.button(key=f"numista_link_{coin_id}").disabled  # nothing preselected
    pick.set_value(420).run()
    at.button(key=f"numista_link_{coin_id}").click().run()
    assert not at.exception, at.exception
    assert any("Linked to N# 420 and issue 4202" in e.value for e in at.success)
    with context.session() as session:
        linked = get_item(session, owner.id, coin_id)
        assert (linked.numista_type_id, linked.numista_issue_id) == (420, 4202)
    assert numista_env.quota_used() == 3  # issuer list, search, issue list


def test_grade_override_editor_saves_and_remaps(app_env: str) -> None:
    context = open_context()
    with context.session() as session:
        owner = ensure_local_user(session)
        coin = add_item(session, owner.id, kind="coin", title="5 lire", grade="SPL")
        coin_id = coin.id
    at = _page("settings")
    editor = at.data_editor(key="grade_overrides_editor")
    table = editor.value
    assert list(table["grade text"]) == ["spl"] and list(table["automatic"]) == ["unmapped"]
    at.session_state["grade_overrides_editor"] = {
        "edited_rows": {0: {"your choice": "xf"}}, "added_rows": [{"grade text": "gVF", "your choice": "vf"}],
        "deleted_rows": [],
    }  # fmt: skip
    at.run()
    at.button(key="save_grade_overrides").click().run()
    assert not at.exception, at.exception
    assert any("Saved 2 override(s); 1 coin(s) re-mapped" in e.value for e in at.success)
    with context.session() as session:
        assert grade_overrides(session, owner.id) == {"spl": "xf", "gvf": "vf"}
        assert get_item(session, owner.id, coin_id).grade_code == "xf"
