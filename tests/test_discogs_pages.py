"""Discogs in the pages (AppTest through app.py, real HTTP to the emulator): Connections (Connect Discogs →
authorize → callback query parameters, the registration explanation, personal token, disconnect), the
Import page's CSV preview and commit, the Export page's Discogs wizard queueing a job."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from services.context import open_context
from services.store.models import Connection, Item, Job
from tests.discogs_support import discogs_csv, seed_releases
from tests.emulators.discogs import CONSUMER_KEY, CONSUMER_SECRET, PERSONAL_TOKEN, USER_AGENT, DiscogsEmulator
from tests.sync_support import wait_task

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def discogs_env(app_env: str, discogs_emulator: DiscogsEmulator, monkeypatch: pytest.MonkeyPatch) -> DiscogsEmulator:
    monkeypatch.setenv("DISCOGS_API_URL", discogs_emulator.base_url)
    monkeypatch.setenv("DISCOGS_AUTHORIZE_URL", discogs_emulator.authorize_url)
    monkeypatch.setenv("HTTP_BACKOFF_BASE", "0.01")
    monkeypatch.setenv("VITRINE_BACKGROUND_WORKER", "0")
    return discogs_emulator


@pytest.fixture
def registered(discogs_env: DiscogsEmulator, monkeypatch: pytest.MonkeyPatch) -> DiscogsEmulator:
    monkeypatch.setenv("DISCOGS_CONSUMER_KEY", CONSUMER_KEY)
    monkeypatch.setenv("DISCOGS_CONSUMER_SECRET", CONSUMER_SECRET)
    return discogs_env


def _page(page: str, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def _return_from_discogs(query: dict[str, str]) -> AppTest:
    """Discogs' redirect back, opened at the app's default page: app.py sends it on to Connections, query and all."""
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    assert [title.value for title in at.title] == ["Connections"]
    return at


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for kind in (at.success, at.error, at.warning, at.info, at.markdown, at.caption)
                    for e in kind)  # fmt: skip


def test_without_an_application_the_page_explains_and_offers_the_personal_token(discogs_env: DiscogsEmulator) -> None:
    at = _page("connections")
    assert "DISCOGS_CONSUMER_KEY" in _texts(at) and not [b for b in at.button if b.key == "discogs_connect"]
    at.text_input(key="discogs_personal_token").input(PERSONAL_TOKEN)
    next(b for b in at.button if "discogs_token_form" in str(b.id)).click().run()
    assert not at.exception, at.exception
    assert "Connected as **example** (Discogs user 1)" in _texts(at)
    assert PERSONAL_TOKEN not in _texts(at)
    at.button(key="discogs_refresh_prices").click().run()
    assert not at.exception, at.exception
    assert "Priced 0 release(s)" in _texts(at)
    at.button(key="discogs_disconnect").click().run()
    assert "disconnected" in _texts(at)


def test_connect_discogs_then_the_callback_connects_the_member(registered: DiscogsEmulator) -> None:
    at = _page("connections")
    at.button(key="discogs_connect").click().run()
    assert not at.exception, at.exception
    url = next(str(e.proto.url) for e in at.get("link_button"))
    assert url.startswith(registered.authorize_url + "?oauth_token=")
    answer = httpx.get(url, headers={"User-Agent": USER_AGENT})
    # AppTest has no address bar: Discogs shows the code (oob); a browser is redirected (test_e2e_discogs)
    verifier = answer.text.split('<code id="verifier">')[1].split("<")[0]
    token = parse_qs(urlsplit(url).query)["oauth_token"][0]
    # the callback arrives in a new browser session with the query parameters
    back = _return_from_discogs({"oauth_token": token, "oauth_verifier": verifier})
    assert "Connected to Discogs as example" in _texts(back) or "Connected as **example**" in _texts(back)
    with open_context().session() as session:
        connection = session.scalar(select(Connection).where(Connection.service == "discogs"))
        assert connection is not None and connection.remote_user == "example"
    # the same callback again is refused with a clear message
    again = _return_from_discogs({"oauth_token": token, "oauth_verifier": verifier})
    assert "already used" in _texts(again) or "unknown" in _texts(again)


def test_import_page_imports_from_the_account_in_the_background(discogs_env: DiscogsEmulator) -> None:
    at = _page("import")
    assert at.button(key="discogs_import_account").disabled  # not connected yet
    for release_id in seed_releases(discogs_env, 5):
        discogs_env.add_instance(release_id)
    context = open_context()
    from services.accounts import ensure_local_user
    from services.integrations.discogs.oauth import connect_personal_token

    with context.session() as session:
        owner = ensure_local_user(session, "EUR")
        connect_personal_token(session, context.settings, context.vault, owner.id, PERSONAL_TOKEN)
    at = _page("import")
    at.button(key="discogs_import_account").click().run()
    assert not at.exception, at.exception
    from tests.sync_support import wait_for

    def imported() -> bool:
        with context.session() as session:
            job = session.scalar(select(Job).where(Job.kind == "import"))
            return job is not None and job.status == "done"

    wait_for(imported, timeout=60)
    at.run()
    shown = " ".join(str(p.proto.text) for p in at.get("progress"))
    assert "Import done: 8 new, 0 updated, 0 unchanged · 1 of 1 pages" in shown
    with context.session() as session:
        assert len(list(session.scalars(select(Item).where(Item.kind == "record")))) == 8


def test_export_page_discogs_wizard_queues_a_job(registered: DiscogsEmulator) -> None:
    releases = seed_releases(registered, 3)
    context = open_context()
    from services.accounts import ensure_local_user
    from services.collection import add_item
    from services.integrations.discogs.oauth import connect_personal_token

    with context.session() as session:
        owner = ensure_local_user(session, "EUR")
        connect_personal_token(session, context.settings, context.vault, owner.id, PERSONAL_TOKEN)
        for n, release_id in enumerate(releases):
            item = add_item(session, owner.id, kind="record", title=f"R{n}", grade="Mint (M)")
            item.discogs_release_id = release_id
        add_item(session, owner.id, kind="record", title="Unlinked")
    at = _page("export")
    assert "1 record(s) cannot be chosen" in " ".join(str(e.label) for e in at.expander)
    at.button(key="discogs_select_all").click().run()
    assert at.data_editor[0].value["push"].all() and len(at.data_editor[0].value) == 3
    at.button(key="discogs_review").click().run()
    assert not at.exception, at.exception
    at.button(key="discogs_confirm").click().run()
    assert not at.exception, at.exception
    with context.session() as session:
        job = session.scalar(select(Job).order_by(Job.id.desc()))
        assert job is not None and job.service == "discogs" and job.params["folder"] == 1
        job_id = job.id
    assert f"Job {job_id}" in " ".join(s.value for s in at.subheader)


def test_export_page_reads_a_listing_price_by_the_one_money_rule(registered: DiscogsEmulator) -> None:
    """The listing price was a number widget that read "12,50" as 1250: now it is refused in one line and the
    review waits; a price of 0 is refused too; empty is Discogs' suggestion; "12.50" is 12.50."""
    from decimal import Decimal

    from services.accounts import ensure_local_user
    from services.collection import add_item
    from services.integrations.discogs.oauth import connect_personal_token

    (release,) = seed_releases(registered, 1)
    context = open_context()
    with context.session() as session:
        owner = ensure_local_user(session, "EUR")
        connect_personal_token(session, context.settings, context.vault, owner.id, PERSONAL_TOKEN)
        add_item(session, owner.id, kind="record", title="R", grade="Mint (M)").discogs_release_id = release
    at = _page("export")
    at.radio(key="discogs_export_target").set_value("marketplace").run()
    at.button(key="discogs_select_all").click().run()
    assert not at.error and not at.button(key="discogs_review").disabled  # empty: Discogs' suggestion
    for typed, said in (("12,50", "listing price '12,50' has a comma: use a dot"), ("0", "greater than 0")):
        at.text_input(key="discogs_price").input(typed).run()
        assert len(at.error) == 1 and said in at.error[0].value and "\n" not in at.error[0].value
        assert at.button(key="discogs_review").disabled
    at.text_input(key="discogs_price").input("12.50").run()
    assert not at.error
    at.button(key="discogs_review").click().run()
    assert not at.exception, at.exception
    assert at.session_state["discogs_review_plan"][1].price == Decimal("12.50")
    assert at.button(key="discogs_confirm")  # Push is offered for the reviewed plan...
    for typed in ("12,50", "13.00"):  # ...and withdrawn once the price is no longer the reviewed one
        at.text_input(key="discogs_price").input(typed).run()
        assert not at.exception and "discogs_review_plan" not in at.session_state
        assert not any(button.key == "discogs_confirm" for button in at.button)
        at.text_input(key="discogs_price").input("12.50").run()
        at.button(key="discogs_review").click().run()


def test_sets_page_shows_records_by_artist_and_label(discogs_env: DiscogsEmulator, tmp_path: Path) -> None:
    from services.accounts import ensure_local_user
    from services.integrations.discogs.importer import import_discogs_csv
    from tests.discogs_support import discogs_csv

    path = tmp_path / "export.csv"
    path.write_text(discogs_csv([
        {"Artist": "Can", "Title": "Tago Mago", "Label": "United Artists", "release_id": "11"},
        {"Artist": "Can", "Title": "Ege Bamyasi", "Label": "United Artists", "release_id": "12"},
        {"Artist": "Neu!", "Title": "Neu!", "Label": "Brain", "release_id": "13"},
    ]), encoding="utf-8")  # fmt: skip
    with open_context().session() as session:
        import_discogs_csv(session, ensure_local_user(session, "EUR").id, path)
    at = _page("sets")
    frames = {frame.value.columns[0]: frame.value for frame in at.dataframe}
    artists = frames["Artist"].set_index("Artist")["Copies"].to_dict()
    labels = frames["Label"].set_index("Label")["Copies"].to_dict()
    assert artists == {"Can": 2, "Neu!": 1} and labels == {"United Artists": 2, "Brain": 1}


def test_send_to_export_from_the_collection_page_preselects_the_records_with_a_release(
    registered: DiscogsEmulator,
) -> None:
    releases = seed_releases(registered, 2)
    context = open_context()
    from services.accounts import ensure_local_user
    from services.collection import add_item
    from services.integrations.discogs.oauth import connect_personal_token

    with context.session() as session:
        owner = ensure_local_user(session, "EUR")
        connect_personal_token(session, context.settings, context.vault, owner.id, PERSONAL_TOKEN)
        linked = []
        for n, release_id in enumerate(releases):
            item = add_item(session, owner.id, kind="record", title=f"Linked {n}", grade="Mint (M)")
            item.discogs_release_id = release_id
            linked.append(item.id)
        unlinked = add_item(session, owner.id, kind="record", title="Unlinked").id
        add_item(session, owner.id, kind="record", title="Not chosen").discogs_release_id = 999_001
    at = _page("collection")
    at.selectbox(key="collection_kind").select("record").run()
    titles = list(at.dataframe[0].value["Title"])
    chosen = [titles.index(title) for title in ("Linked 0", "Linked 1", "Unlinked")]
    at.session_state["collection_table"] = {"selection": {"rows": chosen, "columns": [], "cells": []}}
    at.run()
    at.button(key="collection_send_to_export").click().run()
    assert not at.exception, at.exception
    assert "From your Collection selection:** 2 for Discogs" in _texts(at)
    left_out = next(f.value for f in at.dataframe if "why it cannot be chosen" in f.value.columns)
    assert list(left_out["#"]) == [unlinked] and "no Discogs release id" in left_out["why it cannot be chosen"][0]
    picker = at.data_editor[0].value.set_index("title")["push"].to_dict()
    assert picker == {"Linked 0": True, "Linked 1": True, "Not chosen": False}  # the unlinked one is not offered
    at.switch_page("pages/export.py").run()  # AppTest's next runs stay on the page it was told to (the browser's URL)
    at.button(key="discogs_review").click().run()
    assert not at.exception, at.exception
    plan = next(f.value for f in at.dataframe if "action" in f.value.columns)
    assert sorted(plan["id"]) == sorted(linked) and set(plan["action"]) == {"create"}


def test_import_page_imports_a_discogs_csv_export_in_the_background(discogs_env: DiscogsEmulator) -> None:
    rows = [{"Artist": "Band A", "Title": "First", "release_id": "11", "Collection Media Condition": "VG"},
            {"Artist": "Band B", "Title": "Second", "release_id": "12"},
            {"Artist": "Broken", "Title": "Row", "release_id": "abc"}]  # fmt: skip
    at = _page("import")
    at.file_uploader(key="discogs_csv_file").set_value(("export.csv", discogs_csv(rows).encode(), "text/csv")).run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["New records"] == "2"
    at.button(key="discogs_csv_commit").click().run()
    assert not at.exception, at.exception
    wait_task(open_context().engine, "discogs_csv_import")  # the import runs on the server, beyond this page's run
    at.run()
    assert not at.exception, at.exception
    assert any("2 new" in s.value for s in at.success), [e.value for e in at.error]
    assert any("Row 4" in w.value for w in at.warning)
    with open_context().session() as session:
        titles = session.scalars(select(Item.title).where(Item.kind == "record").order_by(Item.title)).all()
    assert titles == ["Band A – First", "Band B – Second"]


def test_link_to_discogs_page_searches_and_links_the_records_without_a_release(discogs_env: DiscogsEmulator) -> None:
    """Every record without a release, a search from its title (one call), a pick among the hits (none picked
    for you), Link; another member's records never show. Before connecting, the page says to connect."""
    releases = seed_releases(discogs_env, 12)
    context = open_context()
    from services.accounts import ensure_local_user
    from services.collection import add_item
    from services.integrations.discogs.oauth import connect_personal_token
    from services.store.models import User

    with context.session() as session:
        owner = ensure_local_user(session, "EUR")
        other = User(username="bob", currency="EUR")
        session.add(other)
        session.flush()
        add_item(session, other.id, kind="record", title="Band 5 (2) – Album 5")  # bob's: never shown
        session.commit()
    at = _page("discogs_link")
    assert "Connect your Discogs account first" in _texts(at)

    with context.session() as session:
        connect_personal_token(session, context.settings, context.vault, owner.id, PERSONAL_TOKEN)
        album = add_item(session, owner.id, kind="record", title="Band 3 (2) – Album 3", year=1973).id
        nothing = add_item(session, owner.id, kind="record", title="No Such Band – No Such Album").id
        add_item(session, owner.id, kind="record", title="Linked already").discogs_release_id = releases[0]
        session.commit()
    calls = discogs_env.count()
    at = _page("discogs_link")
    assert "2 record(s) without a Discogs release." in _texts(at)
    assert {c.key for c in at.get("flex_container") if str(c.key or "").startswith("discogs_record_")} == {
        f"discogs_record_{album}", f"discogs_record_{nothing}"}
    assert at.text_input(key=f"discogs_words_{album}").value == "Band 3 (2) Album 3"
    assert discogs_env.count() == calls  # opening the page spends nothing

    at.button(key=f"discogs_search_{nothing}").click().run()
    assert "Discogs found nothing" in _texts(at)
    at.button(key=f"discogs_search_{album}").click().run()
    assert not at.exception, at.exception
    pick = at.radio(key=f"discogs_pick_{album}")
    assert pick.value is None  # nothing picked for you
    assert "Band 3 (2) - Album 3 (1973 · Label 3 · CAT-0003 · Vinyl · UK)" in pick.options
    assert at.button(key=f"discogs_link_{album}").disabled
    pick.set_value(releases[3]).run()
    at.button(key=f"discogs_link_{album}").click().run()
    assert not at.exception, at.exception
    assert f"Linked “Band 3 (2) – Album 3” to Discogs release {releases[3]}." in _texts(at)
    assert "1 record(s) without a Discogs release." in _texts(at)
    with context.session() as session:
        assert session.get(Item, album).discogs_release_id == releases[3]  # type: ignore[union-attr]
        assert session.get(Item, nothing).discogs_release_id is None  # type: ignore[union-attr]


def test_import_page_refuses_a_discogs_csv_over_the_row_limit_and_reports_out_of_range_rows(
    discogs_env: DiscogsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VITRINE_IMPORT_MAX_ROWS", "2")
    rows = [{"Artist": "Band A", "Title": "First", "release_id": "11"},
            {"Artist": "Band B", "Title": "Huge", "release_id": "99999999999999999999999", "Released": "9999"}]
    at = _page("import")
    at.file_uploader(key="discogs_csv_file").set_value(("export.csv", discogs_csv(rows).encode(), "text/csv")).run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["New records"] == "1"
    assert [w.value for w in at.warning if "Row 3" in w.value] == [
        "Row 3: release_id must be a whole number from 1 to 2,147,483,647, not '99999999999999999999999'"]
    three = [*rows, {"Artist": "Band C", "Title": "Third", "release_id": "13"}]
    at.file_uploader(key="discogs_csv_file").set_value(("more.csv", discogs_csv(three).encode(), "text/csv")).run()
    assert not at.exception, at.exception
    assert any("more than 2 rows" in e.value for e in at.error), _texts(at)
    assert not [b for b in at.button if b.key == "discogs_csv_commit"]
