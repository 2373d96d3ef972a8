"""The export wizard through app.py with AppTest: choose coins, review the exact bodies, confirm, and watch the
server's own background worker push them to the Numista emulator; update with a diff; quota pause/resume."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from services.accounts import ensure_local_user
from services.accounts.connections import save_secret
from services.collection import add_item, get_item, update_item
from services.context import open_context
from services.integrations.numista.quota import clear_exhausted
from services.store.db import session_scope
from services.sync import engine as jobs
from tests.emulators.numista import DEMO_API_KEY, NumistaEmulator
from tests.sync_support import Env, add_coins, assert_each_exactly_once, job_status, numista_settings, wait_for

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def page_env(app_env: str, monkeypatch: pytest.MonkeyPatch, emulator_factory: Any, request: Any) -> Iterator[Env]:
    quota = getattr(request, "param", 2000)
    emulator = emulator_factory(NumistaEmulator, monthly_quota=quota)
    for name, value in {
        "NUMISTA_API_URL": emulator.base_url, "NUMISTA_RATE_LIMIT": "10000", "HTTP_BACKOFF_BASE": "0.01",
        "VITRINE_WORKER_POLL": "0.05", "VITRINE_WORKER_HEARTBEAT": "0.2", "VITRINE_SYNC_SETTLE": "0.3",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    context = open_context()
    with context.session() as session:
        owner = ensure_local_user(session, "EUR")
        save_secret(session, context.vault, owner.id, "numista", DEMO_API_KEY)
        owner_id = owner.id
    engine: Engine = context.engine
    yield Env(engine, emulator, numista_settings(emulator), context.vault, owner_id)
    st.cache_resource.clear()  # stops the app's background worker before the emulator goes away


def export_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/export.py").run()
    assert not at.exception, at.exception
    return at


def rendered_text(at: AppTest) -> str:
    parts: list[str] = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "json", "subheader", "title"):
        parts += [str(element.value) for element in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [element.value.to_string() for element in at.dataframe]
    return "\n".join(parts)


def frame_with(at: AppTest, column: str) -> Any:
    """The first table showing `column` (AppTest does not expose a dataframe's key)."""
    return next(element.value for element in at.dataframe if column in element.value.columns)


def latest_job(env: Env) -> int:
    with session_scope(env.engine) as session:
        return jobs.list_jobs(session, env.owner_id, limit=1)[0].id


def test_wizard_selects_reviews_confirms_and_shows_live_results(page_env: Env) -> None:
    env = page_env
    ids = add_coins(env, 8)
    with session_scope(env.engine) as session:
        unlinked = add_item(session, env.owner_id, kind="coin", title="Mystery coin", grade="VF").id
        add_item(session, env.owner_id, kind="coin", title="On my wish list", numista_type_id=420, status="wish")
    at = export_page()
    assert "Wish" not in at.data_editor[0].value.to_string()  # not held: not offered by default
    at.button(key="export_select_all").click().run()
    assert at.data_editor[0].value["push"].all()
    at.selectbox(key="export_collection").select(1002).run()
    at.button(key="export_review").click().run()
    assert not at.exception, at.exception

    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["To add"], metrics["Skipped"], metrics["Numista calls"]) == ("8", "1", "9")
    warnings = frame_with(at, "note")
    assert "no Numista type" in warnings.set_index("id").at[unlinked, "note"]
    at.selectbox(key="export_preview_item").select(ids[1]).run()
    body = json.loads(at.json[0].value)
    assert body["internal_id"] == env.marker(ids[1]) and body["collection"] == 1002 and "weight" not in body
    omitted = frame_with(at, "why it is not sent").set_index("field")
    assert "catalogue weight" in omitted.at["weight", "why it is not sent"]

    at.button(key="export_confirm").click().run()
    assert not at.exception, at.exception
    job_id = latest_job(env)
    wait_for(lambda: job_status(env.engine, job_id) == "done", timeout=60)  # the app's background worker
    at.run()
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Done"], metrics["Failed"], metrics["Remaining"]) == ("9", "0", "0")
    results = frame_with(at, "attempts")
    assert sorted(results["status"]) == ["SKIPPED"] + ["SYNCED"] * 8
    assert_each_exactly_once(env, set(ids))
    assert all(r["collection"]["id"] == 1002 for r in env.remote_ours())
    assert DEMO_API_KEY not in rendered_text(at)


def test_already_synced_coins_can_be_updated_with_a_diff(page_env: Env) -> None:
    env = page_env
    ids = add_coins(env, 2, acquired_price=None, notes=None, acquired_place=None)
    at = export_page()
    at.button(key="export_select_all").click().run()
    at.button(key="export_review").click().run()
    at.button(key="export_confirm").click().run()
    wait_for(lambda: job_status(env.engine, latest_job(env)) == "done", timeout=60)

    with session_scope(env.engine) as session:
        item = get_item(session, env.owner_id, ids[0])
        update_item(session, env.owner_id, ids[0], item.version, storage_location="Bank safe")
    at.button(key="export_new").click().run()
    at.button(key="export_select_all").click().run()
    at.radio(key="export_on_synced").set_value("update").run()
    at.button(key="export_review").click().run()
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["To update"], metrics["Skipped"], metrics["Numista calls"]) == ("1", "1", "3")
    at.selectbox(key="export_preview_item").select(ids[0]).run()
    diff = frame_with(at, "would send").set_index("field")
    assert diff.at["storage_location", "would send"] == "Bank safe"
    env.emulator.clear_requests()
    at.button(key="export_confirm").click().run()
    wait_for(lambda: job_status(env.engine, latest_job(env)) == "done", timeout=60)
    patches = env.emulator.requests_to("/v3/users/*/collected_items/*", "PATCH")
    assert [p.json() for p in patches] == [{"storage_location": "Bank safe"}]


@pytest.mark.parametrize("page_env", [12], indirect=True)
def test_a_job_paused_by_the_quota_says_why_and_resumes(page_env: Env) -> None:
    env = page_env
    ids = add_coins(env, 15)
    at = export_page()
    at.button(key="export_select_all").click().run()
    at.button(key="export_review").click().run()
    at.button(key="export_confirm").click().run()
    job_id = latest_job(env)
    wait_for(lambda: job_status(env.engine, job_id) == "paused", timeout=60)
    at.run()
    assert any("quota" in w.value.lower() for w in at.warning), [w.value for w in at.warning]
    with env.emulator.lock:
        env.emulator.keys[DEMO_API_KEY].used = 0  # a new month
    with session_scope(env.engine) as session:
        clear_exhausted(session, env.owner_id)
    at.button(key="export_resume").click().run()
    assert not at.exception, at.exception
    wait_for(lambda: job_status(env.engine, job_id) == "done", timeout=60)
    assert_each_exactly_once(env, set(ids))


def test_failed_coins_are_listed_and_can_be_retried(page_env: Env) -> None:
    env = page_env
    ids = add_coins(env, 2)
    with session_scope(env.engine) as session:
        bad = add_item(session, env.owner_id, kind="coin", title="Wrong N#", numista_type_id=999999).id
    at = export_page()
    at.button(key="export_select_all").click().run()
    at.button(key="export_review").click().run()
    at.button(key="export_confirm").click().run()
    job_id = latest_job(env)
    wait_for(lambda: job_status(env.engine, job_id) == "done_with_errors", timeout=60)
    at.run()
    results = frame_with(at, "attempts").set_index("item")
    assert results.at[bad, "status"] == "FAILED" and "999999" in results.at[bad, "error"]
    with session_scope(env.engine) as session:  # the user corrects the link, then retries from the page
        update_item(session, env.owner_id, bad, get_item(session, env.owner_id, bad).version, numista_type_id=420)
    at.button(key="export_retry").click().run()
    assert not at.exception, at.exception
    wait_for(lambda: job_status(env.engine, job_id) == "done", timeout=60)
    at.run()
    assert frame_with(at, "attempts").set_index("item").at[bad, "status"] == "SYNCED"
    assert_each_exactly_once(env, {*ids, bad})
    with env.emulator.lock:
        tokens = list(env.emulator.state.tokens)
    shown = rendered_text(at)
    assert tokens and not any(secret in shown for secret in (DEMO_API_KEY, *tokens))


def test_coins_sent_from_the_collection_page_are_chosen_in_the_wizard(page_env: Env) -> None:
    ids = add_coins(page_env, 4)
    with session_scope(page_env.engine) as session:
        unlinked = add_item(session, page_env.owner_id, kind="coin", title="No type").id
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/collection.py").run()
    table = at.dataframe[0].value
    wanted = {ids[0], ids[2], unlinked}
    rows = [index for index, item_id in enumerate(table["#"]) if int(item_id) in wanted]
    at.session_state["collection_table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    at.run()
    at.button(key="collection_send_to_export").click().run()
    assert not at.exception, at.exception
    assert "From your Collection selection:** 2 for Numista" in rendered_text(at)
    assert "no Numista type (N#) is linked to this coin" in rendered_text(at)
    picked = at.data_editor[0].value.set_index("id")["push"].to_dict()
    assert {item_id for item_id, push in picked.items() if push} == {ids[0], ids[2]}
