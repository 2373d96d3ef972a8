"""The Link to Numista page (AppTest through app.py, real HTTP to the emulator): calls shown before spending,
no preselected candidate, accept the clear matches, link them in one pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from services.accounts import ensure_local_user
from services.accounts.connections import save_secret
from services.collection import list_items
from services.context import open_context
from services.demo import load_demo
from tests.emulators.numista import DEMO_API_KEY, NumistaEmulator
from tests.sync_support import wait_task

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def demo_connected(app_env: str, numista_emulator: NumistaEmulator, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("NUMISTA_API_URL", numista_emulator.base_url)
    monkeypatch.setenv("HTTP_MAX_RETRIES", "1")
    monkeypatch.setenv("IMAGE_CACHE_DIR", str(Path(app_env.removeprefix("sqlite:///")).parent / "images"))
    context = open_context()
    with context.session() as session:
        owner = ensure_local_user(session)
        load_demo(session, owner.id)
        save_secret(session, context.vault, owner.id, "numista", DEMO_API_KEY)
        return owner.id


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page("pages/numista_link.py").run()
    assert not at.exception, at.exception
    return at


def _coins(owner_id: int) -> list:
    with open_context().session() as session:
        return [item for item in list_items(session, owner_id) if item.kind == "coin"]


def test_demo_coins_are_linked_in_one_pass(demo_connected: int, numista_emulator: NumistaEmulator) -> None:
    at = _page()
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Coins without a type"] == "21" and metrics["Calls to spend"] == "15"
    assert numista_emulator.quota_used() == 0  # nothing spent before the click
    at.button(key="bulk_search").click().run()
    assert not at.exception, at.exception
    wait_task(open_context().engine, "numista_search")
    at.run()
    assert numista_emulator.quota_used() == 15
    assert "14 search(es) done" in at.success[0].value
    radios = [radio for radio in at.radio if radio.key and radio.key.startswith("bulk_pick_")]
    assert len(radios) == 21 and all(radio.value == 0 for radio in radios)  # no candidate preselected
    assert not any(item.numista_type_id for item in _coins(demo_connected))
    at.button(key="bulk_accept").click().run()
    picks = [radio for radio in at.radio if radio.key and radio.key.startswith("bulk_pick_")]
    chosen = [radio for radio in picks if radio.value]
    assert len(chosen) >= 12
    by_hand = [radio for radio in picks if not radio.value]
    for radio in by_hand:  # pick among the others: the first candidate listed
        radio.set_value(int(radio.options[1].split()[1]))
    at.run()
    at.button(key="bulk_link").click().run()
    assert not at.exception, at.exception
    wait_task(open_context().engine, "numista_link")
    at.run()
    linked = [item for item in _coins(demo_connected) if item.numista_type_id]
    assert len(linked) == 21
    assert "Linked 21 coin(s)" in " ".join(s.value for s in at.success)
