"""The Collection page (AppTest through app.py) and its services: kind-specific, humanised columns, paging, the
complete editor with a confirmation and stale edits refused, bulk edit, the whole-collection picker, downloads."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from services.accounts import ensure_local_user
from services.collection import ItemFilter, add_item, get_item, list_items, update_item
from services.collection_table import CollectionPage, collection_page, rows_csv, rows_json, view_rows
from services.context import open_context
from services.demo import load_demo
from services.errors import InvalidInput, NotFound
from services.pricing import own_estimate, unit_prices

APP = str(Path(__file__).resolve().parents[1] / "app.py")
RAW = re.compile(r"\b(None|nan|NaN|NOT_SYNCED|SYNCED|reverseHolofoil|\d{4}-\d{2}-\d{2}T\d{2}:\d{2})\b")


@pytest.fixture
def owner_id(app_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("IMAGE_CACHE_DIR", str(tmp_path / "images"))
    with open_context().session() as session:
        owner = ensure_local_user(session)
        load_demo(session, owner.id)
        return owner.id


def _collection() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page("pages/collection.py").run()
    assert not at.exception, at.exception
    return at


def _item(owner_id: int, **wanted: object):  # type: ignore[no-untyped-def]
    with open_context().session() as session:
        found = next(i for i in list_items(session, owner_id) if all(getattr(i, k) == v for k, v in wanted.items()))
        session.expunge(found)
        return found


@pytest.mark.parametrize(
    "kind, columns",
    [("coin", {"Country", "Year", "Face value", "Mint", "Grade"}), ("card", {"Set", "No.", "Printing", "Condition"}),
     ("record", {"Artist", "Label", "Format", "Media", "Sleeve"})],
)  # fmt: skip
def test_each_kind_shows_its_own_columns_in_words(owner_id: int, kind: str, columns: set[str]) -> None:
    at = _collection()
    at.selectbox(key="collection_kind").select(kind).run()
    table = at.dataframe[0].value
    assert columns <= set(table.columns)
    assert table["Picture"].str.startswith("data:image/").all()  # a picture or a drawn placeholder, never broken
    cells = table.drop(columns=["Picture"]).astype(str).to_numpy().ravel()
    assert not [cell for cell in cells if RAW.search(cell)], "raw codes, None, nan or ISO timestamps on screen"
    assert table["Value"].str.match(r"^([\d,]+\.\d\d (EUR|USD)|no price)$").all()


def test_every_kind_fills_the_grade_column_of_the_all_kinds_view(owner_id: int) -> None:
    """The all-kinds view has one Grade column: a coin's grade, a record's media grade, a card's condition
    (cards left it empty, in the table and in the CSV and JSON downloads)."""
    with open_context().session() as session:
        page = collection_page(session, owner_id, ItemFilter(), page=1, page_size=100, currency="EUR")
    cards = [row for row in page.rows if row.kind == "Card"]
    assert cards and all(row.grade == row.condition != "" for row in cards)


def test_coins_are_told_apart_by_country_and_year(owner_id: int) -> None:
    at = _collection()
    at.selectbox(key="collection_kind").select("coin").run()
    table = at.dataframe[0].value
    two_euro = table[table["Title"] == "2 euro 2004"]
    assert len(two_euro) == 8 and set(two_euro["Country"]) >= {"Greece", "Italy", "Finland"}
    assert set(two_euro["Sync"]) == {"Not on Numista"} and set(two_euro["Face value"]) == {"2 Euro"}


def test_paging_first_previous_next_last(owner_id: int) -> None:
    with open_context().session() as session:
        for number in range(60):
            add_item(session, owner_id, kind="coin", title=f"Token {number:02d}", country="Nowhere")
        total = len(list_items(session, owner_id))
    pages = -(-total // 50)

    def shown() -> str:
        return next(m.value for m in at.markdown if m.value.startswith("Page **"))

    at = _collection()
    assert shown().startswith(f"Page **1** of **{pages}**")
    at.button(key="collection_goto_last").click().run()
    assert shown().startswith(f"Page **{pages}** of **{pages}**")
    assert len(at.dataframe[0].value) == total - 50 * (pages - 1)
    at.button(key="collection_goto_previous").click().run()
    assert shown().startswith(f"Page **{pages - 1}** of")
    at.button(key="collection_goto_first").click().run()
    at.button(key="collection_goto_next").click().run()
    assert shown().startswith("Page **2** of")


def _open_editor(owner_id: int, item_id: int) -> tuple[AppTest, str]:
    """The Collection page with the item chosen in the editor; the prefix of its form's widget keys."""
    at = _collection()
    at.text_input(key="edit_search").input(f"#{item_id}").run()
    at.selectbox(key="edit_item_id").select(item_id).run()
    return at, f"edit_{item_id}_v{_item(owner_id, id=item_id).version}"


def _save(at: AppTest) -> AppTest:
    at.button[[b.label for b in at.button].index("Save changes")].click().run()
    assert not at.exception, at.exception
    return at


def _fill_common_fields(at: AppTest, key: str, title: str) -> None:
    at.text_input(key=f"{key}_title").input(title)
    at.number_input(key=f"{key}_quantity").set_value(2)
    at.selectbox(key=f"{key}_status").select("sale")
    at.text_input(key=f"{key}_storage_location").input("Album 2, page 4")
    at.text_input(key=f"{key}_tags").input("fair, 2021")
    at.text_area(key=f"{key}_notes").input("from the fair")
    at.date_input(key=f"{key}_acquired_date").set_value(date(2021, 5, 1))
    at.text_input(key=f"{key}_acquired_price").input("6.5")
    at.text_input(key=f"{key}_acquired_currency").input("chf")
    at.text_input(key=f"{key}_acquired_place").input("Basel")
    at.text_input(key=f"{key}_estimate").input("9.75")
    at.text_input(key=f"{key}_estimate_currency").input("usd")


def _assert_common_fields_saved(owner_id: int, item_id: int, title: str) -> None:
    saved = _item(owner_id, id=item_id)
    assert (saved.title, saved.quantity, saved.status, saved.storage_location) == (title, 2, "sale", "Album 2, page 4")
    assert (saved.tags, saved.notes, saved.acquired_date) == (["fair", "2021"], "from the fair", date(2021, 5, 1))
    assert (saved.acquired_price, saved.acquired_currency, saved.acquired_place) == (Decimal("6.50"), "CHF", "Basel")
    with open_context().session() as session:
        assert own_estimate(session, item_id) == (Decimal("9.75"), "USD")
        assert unit_prices(session, owner_id, [item_id], "USD")[item_id] == Decimal("9.75")  # it now prices it


def _shown_row(owner_id: int, kind: str, item_id: int) -> dict[str, str]:
    """The item's row of the Collection table for its kind, as the page shows it (headers → text)."""
    at = _collection()
    at.selectbox(key="collection_kind").select(kind).run()
    at.text_input(key="collection_text").input(f"#{item_id}").run()
    table = at.dataframe[0].value
    return {str(k): str(v) for k, v in table[table["#"] == item_id].iloc[0].items()}


def test_every_field_of_a_coin_is_edited_and_confirmed(owner_id: int) -> None:
    coin = _item(owner_id, kind="coin", country="Greece")
    at, key = _open_editor(owner_id, coin.id)
    _fill_common_fields(at, key, "2 euro 2004 Olympics")
    at.text_input(key=f"{key}_country").input("Hellas")
    at.number_input(key=f"{key}_year").set_value(-330)  # BC years fit the coin editor too
    at.text_input(key=f"{key}_face_value").input("2")
    at.text_input(key=f"{key}_face_unit").input("Drachmai")
    at.text_input(key=f"{key}_series").input("Commemoratives")
    at.text_input(key=f"{key}_mint").input("Athens mint")
    at.text_input(key=f"{key}_mintmark").input("Γ")
    at.text_input(key=f"{key}_grade").input("Unc")
    at.selectbox(key=f"{key}_grade_code").select("au")
    at.number_input(key=f"{key}_numista_type_id").set_value(70101)
    at.number_input(key=f"{key}_numista_issue_id").set_value(701011)
    _save(at)
    assert at.success and at.success[0].value.startswith(f"Saved #{coin.id} 2 euro 2004 Olympics: title, quantity,")
    assert "face value, unit, series, mint, mint mark" in at.success[0].value
    _assert_common_fields_saved(owner_id, coin.id, "2 euro 2004 Olympics")
    saved = _item(owner_id, id=coin.id)
    assert (saved.country, saved.year, saved.series, saved.grade, saved.grade_code) == (
        "Hellas", -330, "Commemoratives", "Unc", "au")  # fmt: skip
    assert (saved.numista_type_id, saved.numista_issue_id) == (70101, 701011)
    assert saved.details is not None and {k: saved.details.get(k) for k in ("value", "unit", "mint", "mintmark")} == {
        "value": "2", "unit": "Drachmai", "mint": "Athens mint", "mintmark": "Γ"}  # fmt: skip
    assert saved.details["material"] == coin.details["material"]  # what the import kept stays
    row = _shown_row(owner_id, "coin", coin.id)
    assert (row["Face value"], row["Mint"], row["Country"], row["Grade"]) == ("2 Drachmai", "Γ", "Hellas", "Unc")


def test_every_field_of_a_card_is_edited_and_confirmed(owner_id: int) -> None:
    card = _item(owner_id, kind="card")
    at, key = _open_editor(owner_id, card.id)
    _fill_common_fields(at, key, "Charizard, my best")
    printing = at.selectbox(key=f"{key}_printing")
    assert "Reverse holofoil" in printing.options
    printing.select("reverseHolofoil")
    at.selectbox(key=f"{key}_grade").select("NM")
    at.text_input(key=f"{key}_language").input("fr")
    _save(at)
    assert at.success[0].value.endswith("printing, language, storage, tags, notes, bought on, price paid (per copy), "
                                        "paid in, bought at, own estimate.")  # fmt: skip
    _assert_common_fields_saved(owner_id, card.id, "Charizard, my best")
    saved = _item(owner_id, id=card.id)
    assert (saved.printing, saved.grade, saved.grade_code, saved.language) == ("reverseHolofoil", "NM", "NM", "fr")
    row = _shown_row(owner_id, "card", card.id)
    assert (row["Printing"], row["Condition"], row["Qty"]) == ("Reverse holofoil", "NM", "2")


def test_every_field_of_a_record_is_edited_and_confirmed(owner_id: int) -> None:
    record = _item(owner_id, kind="record", discogs_release_id=1)
    at, key = _open_editor(owner_id, record.id)
    assert at.text_input(key=f"{key}_artist").value == "Persuader, The"  # the cached release's, until edited
    _fill_common_fields(at, key, "The Persuader – Stockholm (repress)")
    at.text_input(key=f"{key}_artist").input("The Persuader")
    at.text_input(key=f"{key}_series").input("Svek")
    at.text_input(key=f"{key}_format").input('Vinyl, 12", 33 ⅓ RPM')
    at.number_input(key=f"{key}_year").set_value(2001)
    at.text_input(key=f"{key}_country").input("Sweden (repress)")
    at.selectbox(key=f"{key}_grade").select("Near Mint (NM or M-)")
    at.selectbox(key=f"{key}_sleeve").select("Very Good (VG)")
    at.number_input(key=f"{key}_discogs_release_id").set_value(2)
    _save(at)
    told = "artist, label, format, year, country, media condition, sleeve condition, discogs release"
    assert told in at.success[0].value
    _assert_common_fields_saved(owner_id, record.id, "The Persuader – Stockholm (repress)")
    saved = _item(owner_id, id=record.id)
    assert (saved.series, saved.year, saved.country, saved.discogs_release_id) == ("Svek", 2001, "Sweden (repress)", 2)
    assert (saved.grade, saved.grade_code) == ("Near Mint (NM or M-)", "Near Mint (NM or M-)")  # pushed as such
    assert saved.details == {"artist": "The Persuader", "format": 'Vinyl, 12", 33 ⅓ RPM',
                             "sleeve_condition": "Very Good (VG)"}  # fmt: skip
    row = _shown_row(owner_id, "record", record.id)
    assert (row["Artist"], row["Label"], row["Format"], row["Media"], row["Sleeve"]) == (
        "The Persuader", "Svek", 'Vinyl, 12", 33 ⅓ RPM', "Near Mint (NM or M-)", "Very Good (VG)")  # fmt: skip


@pytest.mark.parametrize("kind", ["coin", "card", "record"])
def test_a_cleared_note_stays_empty(owner_id: int, kind: str) -> None:
    item = _item(owner_id, kind=kind)
    with open_context().session() as session:
        update_item(session, owner_id, item.id, item.version, notes="to be cleared")
    at, key = _open_editor(owner_id, item.id)
    at.text_area(key=f"{key}_notes").input("")
    _save(at)
    assert _item(owner_id, id=item.id).notes is None
    assert _shown_row(owner_id, kind, item.id)["Notes"] == ""


@pytest.mark.parametrize(
    "field, value, refusal",
    [("face_value", "two", "face value 'two' is not a number"), ("acquired_currency", "E1", "is not a three-letter"),
     ("title", "  ", "An item needs a title."), ("mint", "M" * 201, "at most 200 fit")],
)  # fmt: skip
def test_a_bad_value_is_refused_in_one_line_and_nothing_is_saved(owner_id: int, field: str, value: str,
                                                                 refusal: str) -> None:  # fmt: skip
    coin = _item(owner_id, kind="coin", country="Greece")
    at, key = _open_editor(owner_id, coin.id)
    at.text_input(key=f"{key}_storage_location").input("Album 9")
    at.text_input(key=f"{key}_{field}").input(value)
    _save(at)
    assert at.error and refusal in at.error[0].value and "\n" not in at.error[0].value
    assert _item(owner_id, id=coin.id).storage_location is None and _item(owner_id, id=coin.id).version == coin.version


@pytest.mark.parametrize("field", ["acquired_price", "estimate"])
def test_an_amount_with_a_comma_is_refused_and_nothing_is_saved(owner_id: int, field: str) -> None:
    """ "12,50" was read as 1250 by the number widget (a price 100 times off, "Saved"): now one line says to use a
    dot, no field of the form is saved, and the form keeps what was typed; "12.50" is 12.50."""
    card = _item(owner_id, kind="card")
    at, key = _open_editor(owner_id, card.id)
    assert at.text_input(key=f"{key}_acquired_price").value == f"{card.acquired_price:.2f}"  # "6.50", re-readable
    at.text_input(key=f"{key}_storage_location").input("Binder 3")
    at.text_input(key=f"{key}_{field}").input("12,50")
    _save(at)
    assert len(at.error) == 1 and "'12,50' has a comma: use a dot" in at.error[0].value, at.error
    assert "\n" not in at.error[0].value and not at.success
    saved = _item(owner_id, id=card.id)
    assert (saved.version, saved.storage_location, saved.acquired_price) == (card.version, None, card.acquired_price)
    with open_context().session() as session:
        assert own_estimate(session, card.id) is None
    assert at.text_input(key=f"{key}_{field}").value == "12,50"  # the form keeps it, to be corrected
    assert at.text_input(key=f"{key}_storage_location").value == "Binder 3"
    at.text_input(key=f"{key}_{field}").input("12.50")
    _save(at)
    assert not at.error and at.success, (at.error, at.exception)
    saved = _item(owner_id, id=card.id)
    assert saved.storage_location == "Binder 3"
    with open_context().session() as session:
        stored = saved.acquired_price if field == "acquired_price" else own_estimate(session, card.id)[0]  # type: ignore[index]
    assert stored == Decimal("12.50")


def test_a_cleared_price_is_no_price(owner_id: int) -> None:
    card = _item(owner_id, kind="card")
    assert card.acquired_price is not None
    at, key = _open_editor(owner_id, card.id)
    at.text_input(key=f"{key}_acquired_price").input("")
    _save(at)
    assert at.success and "price paid (per copy)" in at.success[0].value
    assert _item(owner_id, id=card.id).acquired_price is None


def test_dates_are_shown_day_month_year(owner_id: int) -> None:
    from ui.fields import DATE_FORMAT

    at, key = _open_editor(owner_id, _item(owner_id, kind="coin").id)
    assert at.date_input(key=f"{key}_acquired_date").proto.format == DATE_FORMAT == "DD/MM/YYYY"


def test_a_field_of_another_kind_is_refused(owner_id: int) -> None:
    coin = _item(owner_id, kind="coin")
    with open_context().session() as session, pytest.raises(InvalidInput, match="A coin has no artist"):
        update_item(session, owner_id, coin.id, coin.version, artist="Someone")


def test_a_stale_edit_is_refused(owner_id: int) -> None:
    record = _item(owner_id, kind="record")
    at = _collection()
    at.text_input(key="edit_search").input(f"#{record.id}").run()
    at.selectbox(key="edit_item_id").select(record.id).run()
    with open_context().session() as session:  # someone saves in between
        update_item(session, owner_id, record.id, record.version, notes="changed in another tab")
    key = f"edit_{record.id}_v{record.version}"
    at.text_area(key=f"{key}_notes").input("my edit")
    at.button[[b.label for b in at.button].index("Save changes")].click().run()
    assert at.error and "changed elsewhere" in at.error[0].value
    assert _item(owner_id, id=record.id).notes == "changed in another tab"


def test_bulk_status_storage_and_tags(owner_id: int) -> None:
    at = _collection()
    at.selectbox(key="collection_kind").select("record").run()
    ids = [int(i) for i in at.dataframe[0].value["#"]][:3]
    with open_context().session() as session:
        from services.collection import bulk_update

        assert bulk_update(session, owner_id, ids, status="sale", storage_location="Crate B", add_tags=["jazz"]) == 3
    for item_id in ids:
        saved = _item(owner_id, id=item_id)
        assert (saved.status, saved.storage_location, saved.tags) == ("sale", "Crate B", ["jazz"])


def test_a_bulk_change_is_not_reported_by_the_editor_as_someone_elses(owner_id: int) -> None:
    """The editor open on a selected item followed the member's own bulk change: it warned "changed elsewhere"
    and would have refused a save until reloaded."""
    at = _collection()
    at.selectbox(key="collection_kind").select("record").run()
    first = int(at.dataframe[0].value["#"][0])
    at.session_state["collection_table"] = {"selection": {"rows": [0, 1], "columns": [], "cells": []}}
    at.run()
    assert at.selectbox(key="edit_item_id").value == first  # the editor opens on the first selected item
    at.text_input(key="bulk_storage").input("Box 7")
    at.button(key="bulk_apply").click().run()
    assert not at.exception, at.exception
    assert not [w for w in at.warning if "changed elsewhere" in w.value]
    version = _item(owner_id, id=first).version
    assert f"version {version}" in " ".join(m.value for m in at.markdown)  # the form shows the new version


def test_a_bulk_value_that_does_not_fit_is_refused_in_one_line_and_nothing_changes(owner_id: int) -> None:
    at = _collection()
    at.selectbox(key="collection_kind").select("record").run()
    table = at.dataframe[0].value
    chosen = [int(table["#"][0]), int(table["#"][1])]
    before = {item_id: _item(owner_id, id=item_id) for item_id in chosen}
    at.session_state["collection_table"] = {"selection": {"rows": [0, 1], "columns": [], "cells": []}}
    at.run()
    at.selectbox(key="bulk_status").select("sale")
    at.text_input(key="bulk_storage").input("S" * 250)
    at.text_input(key="bulk_tags").input("jazz")
    at.button(key="bulk_apply").click().run()
    assert not at.exception, at.exception
    assert len(at.error) == 1 and "storage location is 250 characters long; at most 200 fit" in at.error[0].value
    assert "\n" not in at.error[0].value and not at.success
    for item_id, item in before.items():
        after = _item(owner_id, id=item_id)
        assert (after.version, after.status, after.storage_location, after.tags) == (
            item.version, item.status, item.storage_location, item.tags)  # fmt: skip
    assert at.text_input(key="bulk_storage").value == "S" * 250  # kept, to be shortened


def test_downloads_hold_the_whole_view_in_words(owner_id: int) -> None:
    with open_context().session() as session:
        rows = view_rows(session, owner_id, ItemFilter(kind="coin"), currency="EUR")
        page = collection_page(session, owner_id, ItemFilter(kind="coin"), page=1, page_size=5, currency="EUR")
        get_item(session, owner_id, rows[0].id)
    assert len(rows) == 21 and len(page.rows) == 5 and (page.total, page.pages) == (21, 5)
    table = list(csv.DictReader(io.StringIO(rows_csv(rows, "coin"))))
    assert len(table) == 21 and {"Country", "Face value", "Value"} <= set(table[0]) and "Picture" not in table[0]
    document = json.loads(rows_json(rows, "coin"))
    assert len(document) == 21 and document[0]["value"].endswith("EUR") and "picture" not in document[0]


def test_a_selection_splits_by_the_service_that_can_take_each_item(owner_id: int) -> None:
    from services.export_selection import split_for_export

    coin, record, card = (_item(owner_id, kind=kind).id for kind in ("coin", "record", "card"))
    with open_context().session() as session:
        linked_coin = add_item(session, owner_id, kind="coin", title="Linked", numista_type_id=95420).id
        sold_coin = add_item(session, owner_id, kind="coin", title="Sold", status="sold", numista_type_id=95420).id
        unlinked_record = add_item(session, owner_id, kind="record", title="Unlinked").id
        chosen = [card, linked_coin, sold_coin, coin, record, unlinked_record, 999_999, record]
        selection = split_for_export(session, owner_id, chosen)
    numista, discogs = selection.for_service("numista"), selection.for_service("discogs")
    assert numista.eligible == (linked_coin,) and discogs.eligible == (record,)
    assert {i.item_id: i.reason for i in numista.ineligible} == {
        sold_coin: "status 'sold' is not a coin you hold", coin: "no Numista type (N#) is linked to this coin"}
    assert [i.item_id for i in discogs.ineligible] == [unlinked_record]
    assert discogs.ineligible[0].reason.startswith("no Discogs release id")
    assert [i.item_id for i in selection.unsupported] == [card]  # the unknown id 999999 is simply not found
    assert "coins to Numista and records to Discogs" in selection.unsupported[0].reason
    assert selection.eligible_count == 2


def test_send_to_export_carries_the_selection_to_the_export_page(owner_id: int) -> None:
    at = _collection()
    table = at.dataframe[0].value
    rows = [list(table["Kind"]).index(kind) for kind in ("Coin", "Record", "Card")]
    record = int(table["#"][rows[1]])
    at.session_state["collection_table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    at.run()
    at.button(key="collection_send_to_export").click().run()
    assert not at.exception, at.exception
    assert at.session_state["discogs_preselected"] == [record] and at.session_state["export_selection"] == []
    notice = " ".join(m.value for m in at.markdown)
    assert "From your Collection selection:** 1 for Discogs" in notice
    left_out = next(f.value for f in at.dataframe if "why it cannot be chosen" in f.value.columns)
    reasons = set(left_out["why it cannot be chosen"])
    assert len(left_out) == 2 and "no Numista type (N#) is linked to this coin" in reasons


def test_a_page_and_its_count_take_the_same_few_statements_whatever_the_size(owner_id: int) -> None:
    def statements_for_first_page(session: Session) -> tuple[int, CollectionPage]:
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731  (conn, cursor, statement, ...)
        event.listen(session.get_bind(), "before_cursor_execute", listener)
        try:
            shown = collection_page(session, owner_id, ItemFilter(kind="coin"), page=1, page_size=10, currency="EUR")
        finally:
            event.remove(session.get_bind(), "before_cursor_execute", listener)
        return len(seen), shown

    with open_context().session() as session:
        small, first = statements_for_first_page(session)
        for n in range(60):
            add_item(session, owner_id, kind="coin", title=f"Extra coin {n:02d}", country="Peru")
        session.flush()
        large, second = statements_for_first_page(session)
        past_end = collection_page(session, owner_id, ItemFilter(kind="coin"), page=99, page_size=10, currency="EUR")
    assert (first.total, second.total) == (21, 81) and len(second.rows) == 10
    assert small == large  # bounded: 3 times the coins, the same statements
    assert (past_end.page, past_end.pages, len(past_end.rows)) == (9, 9, 1)  # a page past the end: the last one


def test_bulk_delete_needs_a_confirmation_then_deletes_the_selected_rows(owner_id: int) -> None:
    at = _collection()
    at.selectbox(key="collection_kind").select("record").run()
    table = at.dataframe[0].value
    chosen = [int(table["#"][0]), int(table["#"][2])]
    at.session_state["collection_table"] = {"selection": {"rows": [0, 2], "columns": [], "cells": []}}
    at.run()
    assert at.button(key="bulk_delete").disabled  # nothing goes without the tick
    at.checkbox(key="bulk_delete_ok").check().run()
    at.button(key="bulk_delete").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value == "Deleted 2 item(s)."
    with open_context().session() as session:
        left = {item.id for item in list_items(session, owner_id, ItemFilter(kind="record"))}
    assert left and not left & set(chosen) and len(left) == len(table) - 2
    assert not set(chosen) & {int(i) for i in at.dataframe[0].value["#"]}  # gone from the table too


def test_one_item_is_deleted_from_the_editor_after_a_confirmation(owner_id: int) -> None:
    card = _item(owner_id, kind="card")
    at, _ = _open_editor(owner_id, card.id)
    assert at.button(key=f"delete_{card.id}").disabled
    at.checkbox(key=f"delete_confirm_{card.id}").check().run()
    at.button(key=f"delete_{card.id}").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value == f"Deleted #{card.id} {card.title}."
    with open_context().session() as session, pytest.raises(NotFound):
        get_item(session, owner_id, card.id)
