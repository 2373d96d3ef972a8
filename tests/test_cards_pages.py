"""The card screens through app.py with Streamlit's AppTest: Catalog search and add, the sync progress path
against the pokemontcg.io emulator (and with the API down), the stale banner, the Import page's CSV section and
the Sets page's list of entries without a price."""

from __future__ import annotations

import socket
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select, update
from streamlit.testing.v1 import AppTest

from services.accounts import ensure_local_user
from services.collection import add_card, list_items
from services.context import open_context
from services.integrations.pokemontcg.catalog import load_offline_snapshot
from services.store.models import Item
from services.store.models_cards import CatalogSyncState
from tests.emulators.fixtures import pokemontcg_emulator  # noqa: F401
from tests.emulators.pokemontcg import DEMO_API_KEY, PokemonTcgEmulator
from tests.sync_support import wait_task
from tests.test_cards_import import TCGPLAYER

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def catalog_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    at.switch_page("pages/catalog.py").run()
    assert not at.exception, at.exception
    return at


def sync_now(at: AppTest) -> None:
    """Click "Sync now", wait for the background sync to end, then show the page as it is after it."""
    at.button(key="sync_now").click().run()
    assert not at.exception, at.exception
    wait_task(open_context().engine, "catalogue_sync")
    at.run()


def items() -> list[Item]:
    with open_context().session() as session:
        return list_items(session, 1)


def tables(at: AppTest, *columns: str) -> list[pd.DataFrame]:
    """The shown tables having these columns, in page order (AppTest does not expose a plain table's key)."""
    return [frame.value for frame in at.dataframe if set(columns) <= set(frame.value.columns)]


def results(at: AppTest) -> pd.DataFrame:
    (found,) = tables(at, "image", "name", "set", "number", "rarity", "types", "id")
    return found


@pytest.fixture
def api(app_env: str, monkeypatch: pytest.MonkeyPatch, pokemontcg_emulator: PokemonTcgEmulator) -> PokemonTcgEmulator:  # noqa: F811
    monkeypatch.setenv("POKEMONTCG_API_URL", pokemontcg_emulator.base_url)
    monkeypatch.setenv("POKEMONTCG_API_KEY", DEMO_API_KEY)
    monkeypatch.setenv("POKEMONTCG_RATE_LIMIT", "1000")
    return pokemontcg_emulator


def test_search_with_a_typo_and_add_a_card_with_every_field(app_env: str) -> None:
    at = catalog_page()
    assert at.info and "Offline catalogue" in at.info[0].value  # no sync yet: the shipped snapshot
    at.text_input(key="catalog_query").input("charzard").run()
    found = results(at)
    assert list(found["id"][:2]) == ["base1-4", "base4-4"] and found["name"].iloc[0] == "Charizard"
    at.selectbox(key="add_card_id").select("base4-4").run()
    at.number_input(key="add_card_quantity").set_value(2)
    at.selectbox(key="add_card_condition").select("LP")
    at.selectbox(key="add_card_printing").select("holofoil")
    at.selectbox(key="add_card_language").select("ja")
    at.date_input(key="add_card_acquired").set_value(date(2024, 6, 1))
    at.text_input(key="add_card_price").input("45.5")
    at.selectbox(key="add_card_currency").select("USD")
    at.text_input(key="add_card_notes").input("from a trade")
    at.button[-1].click().run()  # the form's submit
    assert not at.exception, at.exception
    assert at.success[0].value == "Added 2 copies of Charizard (Base Set 2 4) to your collection."
    (item,) = items()
    assert (item.pokemontcg_card_id, item.quantity, item.grade, item.printing, item.language) == (
        "base4-4", 2, "LP", "holofoil", "ja"
    )  # fmt: skip
    assert (item.acquired_date, item.acquired_price, item.acquired_currency, item.notes) == (
        date(2024, 6, 1), Decimal("45.50"), "USD", "from a trade"
    )  # fmt: skip

    # the form is cleared after adding: a second click cannot silently add the same copies again
    assert at.number_input(key="add_card_quantity").value == 1 and at.text_input(key="add_card_notes").value == ""
    assert at.text_input(key="add_card_price").value == ""

    def same_card_again(strategy: str, price: str = "") -> None:
        at.number_input(key="add_card_quantity").set_value(2)
        at.selectbox(key="add_card_condition").select("LP")
        at.selectbox(key="add_card_printing").select("holofoil")
        at.selectbox(key="add_card_language").select("ja")
        at.selectbox(key="add_card_strategy").select(strategy)
        at.text_input(key="add_card_price").input(price)
        at.selectbox(key="add_card_currency").select("USD")
        at.button[-1].click().run()

    same_card_again("separate")
    assert at.error and "already have an entry" in at.error[0].value
    assert "--strategy" not in at.error[0].value  # the page's words, not the command line's
    same_card_again("increment")
    assert at.success[0].value == f"Added 2 copies to your entry #{item.id} of Charizard (Base Set 2 4): now 4."
    assert len(items()) == 1
    same_card_again("increment", price="30")  # another price paid: kept on an entry of its own, and said so
    assert f"as a new entry #{item.id + 1}, keeping the price paid you gave apart" in at.success[0].value
    assert [(i.quantity, i.acquired_price) for i in items()] == [(4, Decimal("45.50")), (2, Decimal("30.00"))]


def test_a_price_with_a_comma_is_refused_and_nothing_is_added(app_env: str) -> None:
    """The number widget read "12,50" as 1250: now one line says to use a dot, nothing is added, the form keeps
    what was typed; corrected to "12.50" the card is added at 12.50. Its date shows as on the Collection page."""
    from ui.fields import DATE_FORMAT

    at = catalog_page()
    at.text_input(key="catalog_query").input("charizard base").run()
    at.selectbox(key="add_card_id").select("base1-4").run()
    assert at.date_input(key="add_card_acquired").proto.format == DATE_FORMAT
    at.number_input(key="add_card_quantity").set_value(3)
    at.text_input(key="add_card_price").input("12,50")
    at.button[-1].click().run()
    assert not at.exception, at.exception
    assert len(at.error) == 1 and "price paid (per copy) '12,50' has a comma: use a dot" in at.error[0].value
    assert not at.success and items() == []
    assert at.text_input(key="add_card_price").value == "12,50" and at.number_input(key="add_card_quantity").value == 3
    at.text_input(key="add_card_price").input("12.50")
    at.button[-1].click().run()
    assert not at.error and at.success[0].value == "Added 3 copies of Charizard (Base 4) to your collection."
    (item,) = items()
    assert (item.quantity, item.acquired_price) == (3, Decimal("12.50"))


def test_the_form_offers_a_priced_printing_first_and_pictures_are_never_broken(app_env: str) -> None:
    """Charizard (Base 4) is priced only as holofoil (the demo's price): the form offers holofoil first, so a
    plain Add is a priced entry; offline, its picture and the results' are drawn or cached, never a bare URL."""
    from services.accounts import ensure_local_user
    from services.demo import load_demo

    with open_context().session() as session:
        load_demo(session, ensure_local_user(session).id)
    at = catalog_page()
    at.text_input(key="catalog_query").input("charizard base").run()
    at.selectbox(key="add_card_id").select("base1-4").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="add_card_printing").value == "holofoil"
    assert all(str(uri).startswith("data:") for uri in results(at)["image"])
    pictures = list(at.get("image"))
    assert pictures, "the chosen card's picture"
    assert all("images.pokemontcg.io" not in str(element.proto) for element in pictures)


def test_filters_paging_and_suggestions(app_env: str) -> None:
    at = catalog_page()
    at.selectbox(key="catalog_set").select("sv1").run()
    at.selectbox(key="catalog_sort").select("number").run()
    assert list(results(at)["number"][:3]) == ["1", "2", "3"]
    assert at.pagination(key="catalog_page").value == 1
    at.pagination(key="catalog_page").set_value(11).run()
    last = results(at)
    assert list(last["number"]) == [str(n) for n in range(241, 259)]  # 258 cards, 24 a page
    at.text_input(key="catalog_query").input("pikac").run()  # a new search starts on page 1
    at.selectbox(key="catalog_set").select("").run()
    assert at.pills(key="catalog_suggestion").options[0] == "Pikachu"
    at.pills(key="catalog_suggestion").set_value("Pikachu").run()
    assert at.text_input(key="catalog_query").value == "Pikachu"
    assert set(results(at)["name"]) >= {"Pikachu"}
    at.text_input(key="catalog_query").input("no such card at all").run()
    assert not at.exception and "No card matches" in at.info[-1].value
    at.text_input(key="catalog_query").input("a").run()  # one letter names no card: not "check the spelling"
    assert not at.exception and at.info[-1].value == "Type at least 2 letters of the card's name."


def test_sync_from_the_page_shows_progress_then_prices(api: PokemonTcgEmulator) -> None:
    api.set_card_prices("base5-83", tcgplayer={"updatedAt": "2025/11/14", "prices": {"holofoil": {"market": 99.5}}})
    at = catalog_page()
    at.multiselect(key="sync_sets").select("base5").select("base1")
    sync_now(at)
    assert not at.exception, at.exception
    assert at.progress[0].value == 100
    assert "2 set(s) synced" in at.success[0].value and "185 cards" in at.success[0].value
    assert [r.param("q") for r in api.requests_to("/v2/cards")] == ["set.id:base5", "set.id:base1"]  # as chosen
    at.text_input(key="catalog_query").input("dark raichu").run()
    assert not at.info or "Offline" not in at.info[0].value  # synced: no offline banner any more
    (prices,) = tables(at, "source", "printing", "metric", "value")
    market = prices[(prices["source"] == "tcgplayer") & (prices["metric"] == "market")]
    assert list(market["value"]) == [99.5] and list(market["printing"]) == ["holofoil"]
    assert at.selectbox(key="add_card_printing").value == "holofoil"  # the printing that has a price comes first

    api.clear_requests()
    sync_now(at)  # still fresh: no call spent
    assert "0 set(s) synced" in at.success[0].value and not api.requests_to("/v2/cards")


def test_sync_with_the_api_down_is_a_banner_not_a_crash(app_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        monkeypatch.setenv("POKEMONTCG_API_URL", f"http://127.0.0.1:{sock.getsockname()[1]}/v2")
    monkeypatch.setenv("HTTP_MAX_RETRIES", "0")
    at = catalog_page()
    sync_now(at)
    assert not at.exception, at.exception
    assert any("could not be reached" in w.value for w in at.warning)
    assert len(results(at)) == 24  # search keeps working on what is stored
    at.run()
    assert any("did not finish" in w.value for w in at.warning)  # the banner remembers the failure


def test_stale_catalogue_banner(api: PokemonTcgEmulator) -> None:
    at = catalog_page()
    at.multiselect(key="sync_sets").select("base2")
    sync_now(at)
    with open_context().session() as session:
        session.execute(
            update(CatalogSyncState).where(CatalogSyncState.key == "set:base2")
            .values(expires_at=datetime.now(UTC) - timedelta(hours=1))
        )  # fmt: skip
    at.run()
    assert any("out of date" in w.value for w in at.warning)
    assert len(results(at)) > 0


def test_import_page_previews_then_imports_a_card_export(app_env: str) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/import.py").run()
    at.file_uploader(key="cards_csv_file").set_value(("tcgplayer.csv", TCGPLAYER.encode(), "text/csv")).run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["New entries"] == "4" and metrics["Skipped"] == "1"
    matched, problems, skipped = tables(at, "row", "cardId", "action", "reason")
    assert list(matched["cardId"]) == ["base1-4", "base5-83", "base1-2", "base1-15"]
    assert list(matched["action"]) == ["create"] * 4
    assert list(problems["row"]) == [5, 8] and list(skipped["row"]) == [9]
    picker = next(s for s in at.selectbox if s.key and s.key.startswith("cards_csv_pick_"))
    assert picker.options[2:] == [
        "Nest Ball · Scarlet & Violet 181 (Uncommon)", "Nest Ball · Scarlet & Violet 255 (Hyper Rare)"
    ]  # fmt: skip
    picker.select_index(3).run()
    assert {m.label: m.value for m in at.metric}["New entries"] == "5"
    assert not items()  # nothing written before the commit
    at.button(key="cards_csv_commit").click().run()
    assert not at.exception, at.exception
    wait_task(open_context().engine, "cards_csv_import")  # the import runs on the server, beyond this page's run
    at.run()
    assert not at.exception, at.exception
    assert any("5 new" in s.value for s in at.success), [e.value for e in at.error]
    assert not [b for b in at.button if b.key == "cards_csv_commit" and not b.disabled]  # nothing left to import
    assert {i.pokemontcg_card_id for i in items()} == {"base1-4", "base5-83", "base1-2", "base1-15", "sv1-255"}


def test_sets_page_lists_entries_without_a_price(app_env: str) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.button(key="load_demo").click().run()
    at.switch_page("pages/sets.py").run()
    assert not at.exception, at.exception
    (unpriced,) = tables(at, "Kind", "Title", "Copies", "Condition")
    with open_context().session() as session:
        demo_unpriced = session.scalar(select(Item.id).where(Item.pokemontcg_card_id == "svp-50"))
    assert list(unpriced["#"]) == [demo_unpriced] and list(unpriced["Copies"]) == [2]
    assert "1 entry" in " ".join(c.value for c in at.caption)


def test_a_set_without_any_price_reads_no_price_not_zero(app_env: str) -> None:
    with open_context().session() as session:
        owner = ensure_local_user(session)
        load_offline_snapshot(session)  # the shipped catalogue: no market prices
        add_card(session, owner.id, "base1-1", printing="holofoil")
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/sets.py").run()
    assert not at.exception, at.exception
    (sets,) = tables(at, "Set", "Unique cards", "Value")
    assert list(sets["Value"]) == ["no price"]
