"""Bad input at every door: out-of-range numbers, binary and UTF-16 files, a 50 MB field, too many rows.

Each case failed on main before services/validation.py and the streaming card importer: the numbers reached
the database (an OverflowError or a NUMERIC overflow at flush: a traceback), '1e300' was read as 1300, a
UTF-16 file was refused as "not a TCGplayer or Collectr export", a 50 MB field raised csv.Error.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from services.collection import add_card, add_item, update_item
from services.errors import InvalidInput
from services.importers import cards_csv
from services.importers.cards_csv import import_cards_csv
from services.importers.opennumismat_import import import_opennumismat
from services.integrations.discogs.importer import import_discogs_csv
from services.integrations.pokemontcg.catalog import load_offline_snapshot
from services.pricing import Observation, record_observations, valuation
from services.store.models import DiscogsRelease, Item, ItemImage, User
from services.validation import OutOfRange, check_money, check_quantity, check_year, parse_money, typed_money
from tests.discogs_support import discogs_csv
from tests.opennumismat_support import write_collection

HEADER = "Quantity,Name,Simple Name,Set,Card Number,Printing,Condition,Language,Rarity,SKU\n"
GOOD = "1,Charizard,Charizard,Base Set,4/102,Holofoil,Near Mint,English,Holo Rare,{sku}\n"
COLLECTR_HEADER = "Portfolio Name,Category,Set,Product Name,Card Number,Rarity,Variance,Grade,Card Condition,\
Average Cost Paid,Quantity,Price Override\n"
HUGE_NUMBERS = ("99999999999999999999999", "1e23", "Infinity", "-Infinity", "NaN", str(2**63 - 1), "-3", "1.5")


@pytest.fixture
def catalogue(session: Session) -> Session:
    load_offline_snapshot(session)
    return session


def items(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Item)) or 0


# --------------------------------------------------------------------------------------------- the rule
@pytest.mark.parametrize("value", [*HUGE_NUMBERS, 0, 1_000_001, True, None])
def test_quantity_range(value: object) -> None:
    with pytest.raises(OutOfRange):
        check_quantity(value)


@pytest.mark.parametrize("value", ["1e300", "-0.01", "Infinity", "NaN", "1000000000000", 1e300, float("nan")])
def test_money_range(value: object) -> None:
    with pytest.raises(OutOfRange):
        check_money(value)


def test_the_edges_are_allowed() -> None:
    assert check_quantity("1000000") == 1_000_000 and check_quantity(1) == 1
    assert check_money("999999999999.99") == Decimal("999999999999.99") and check_money("0") == Decimal("0.00")
    assert check_year(-5000) == -5000 and check_year(2100) == 2100
    with pytest.raises(OutOfRange):
        check_year(2101)


# --------------------------------------------------------------------------------------------- card CSVs
@pytest.mark.parametrize("quantity", HUGE_NUMBERS)
def test_an_out_of_range_quantity_rejects_its_row_only(catalogue: Session, owner: User, quantity: str) -> None:
    text = HEADER + GOOD.format(sku=1) + GOOD.format(sku=2).replace("1,", f'"{quantity}",', 1)
    report = import_cards_csv(catalogue, owner.id, text)
    assert [e["row"] for e in report.errors] == [3] and "quantity" in report.errors[0]["reason"]
    assert "\n" not in report.errors[0]["reason"]
    catalogue.flush()
    assert catalogue.scalars(select(Item.quantity)).all() == [1]


@pytest.mark.parametrize("price", ["1e300", "-5", "$-5.00", "99999999999999999999999", "Infinity", "NaN"])
def test_an_out_of_range_price_rejects_its_row_only(catalogue: Session, owner: User, price: str) -> None:
    text = COLLECTR_HEADER + f"Main,Pokemon,Team Rocket,Dark Charizard,4/82,Holo Rare,Holofoil,Ungraded,Near Mint,\
{price},1,\nMain,Pokemon,Team Rocket,Dark Charizard,4/82,Holo Rare,Holofoil,PSA 9,Near Mint,$5,1,{price}\n"
    report = import_cards_csv(catalogue, owner.id, text)
    assert [e["row"] for e in report.errors] == [2, 3], report.errors
    assert items(catalogue) == 0
    assert valuation(catalogue, owner.id).to_json()["totalEstimatedValue"] == 0


@pytest.mark.parametrize(
    ("content", "code", "words"),
    [
        ((HEADER + GOOD.format(sku=1)).encode("utf-16"), "UTF16_FILE", "UTF-16"),
        ((HEADER + GOOD.format(sku=1)).encode("utf-16-le"), "UTF16_FILE", "UTF-16"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, "BINARY_FILE", "binary"),
        (b"PK\x03\x04" + b"\x00" * 100, "BINARY_FILE", "binary"),
        ((HEADER + '1,"' + "x" * 200_000 + '",a,b,c,d,e,f,g,h\n').encode(), "FIELD_TOO_LARGE", "longer than"),
        ((HEADER + '1,"never closed' + ",x" * 70_000 + "\n").encode(), "FIELD_TOO_LARGE", "longer than"),
    ],
)
def test_a_file_that_is_not_a_csv_export_is_refused_whole(
    catalogue: Session, owner: User, tmp_path: Path, content: bytes, code: str, words: str
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    for data in (path, content):
        with pytest.raises(InvalidInput) as refused:
            import_cards_csv(catalogue, owner.id, data)
        assert refused.value.code == code and words in refused.value.message and "\n" not in refused.value.message
    assert items(catalogue) == 0


def test_the_row_limit_refuses_the_whole_file(catalogue: Session, owner: User) -> None:
    text = HEADER + "".join(GOOD.format(sku=n) for n in range(5))
    attempt = catalogue.begin_nested()  # the caller's transaction: the CLI and the page drop it on an error
    with pytest.raises(InvalidInput) as refused:
        import_cards_csv(catalogue, owner.id, text, max_rows=4)
    attempt.rollback()
    assert refused.value.code == "TOO_MANY_ROWS" and "4" in refused.value.message
    assert items(catalogue) == 0
    assert import_cards_csv(catalogue, owner.id, text, max_rows=5).created == 5


def test_the_report_stays_bounded(catalogue: Session, owner: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cards_csv, "DETAIL_ROWS", 3)
    monkeypatch.setattr(cards_csv, "BATCH_ROWS", 4)
    bad = "1,Nobody,Nobody,Base Set,999,Normal,Near Mint,English,Common,{sku}\n"
    text = HEADER + "".join(GOOD.format(sku=n) for n in range(10)) + "".join(bad.format(sku=n) for n in range(9))
    report = import_cards_csv(catalogue, owner.id, text, dry_run=True)
    assert (report.created, report.count("matched"), report.count("unmatched")) == (10, 10, 9)
    assert len(report.rows) == 6 and len(report.errors) == 3
    assert report.to_json()["errorsOmitted"] == 6
    done = import_cards_csv(catalogue, owner.id, text)
    catalogue.flush()
    assert done.created == 10 and items(catalogue) == 10
    again = import_cards_csv(catalogue, owner.id, text.replace("1,Charizard", "2,Charizard"))
    assert (again.created, again.updated) == (0, 10)
    assert set(catalogue.scalars(select(Item.quantity))) == {2}


# --------------------------------------------------------------------------------------------- OpenNumismat
@pytest.mark.parametrize(
    "bad",
    [
        {"quantity": "99999999999999999999999"}, {"quantity": 1e23}, {"quantity": 2**63 - 1},
        {"year": 99999}, {"year": -2**63}, {"payprice": 1e300}, {"payprice": -5}, {"payprice": "99999999999999999"},
        {"price1": 1e300}, {"price4": -1}, {"grade": "G" * 81}, {"country": "C" * 201}, {"note": "a\x00b"},
    ],
)  # fmt: skip
def test_an_out_of_range_coin_is_reported_and_the_others_import(
    session: Session, owner: User, tmp_path: Path, bad: dict[str, object]
) -> None:
    path = write_collection(tmp_path / "coins.db", [
        {"title": "Good", "quantity": 2, "year": 1990, "payprice": 3.5, "price1": 4, "status": "owned"},
        {"title": "Bad", "status": "owned", **bad},
    ])  # fmt: skip
    report = import_opennumismat(session, owner.id, path)
    assert report.created == 1 and [e["row"] for e in report.errors] == [2], report.errors
    assert "\n" not in report.errors[0]["reason"]
    session.flush()
    assert session.scalars(select(Item.title)).all() == ["Good"]
    assert valuation(session, owner.id).to_json()["totalItems"] == 2


def test_photos_are_inserted_in_batches(session: Session, owner: User, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from services.importers import opennumismat_import

    monkeypatch.setattr(opennumismat_import, "IMAGE_BATCH_BYTES", 1000)
    jpeg = b"\xff\xd8\xff\xe0" + b"0" * 600
    path = write_collection(
        tmp_path / "photos.db", [{"title": f"Coin {n}", "obverseimg": n + 1} for n in range(5)], photos=[jpeg] * 5
    )
    statements: list[int] = []
    original = Session.execute

    def counting(self, statement, params=None, **kwargs):  # type: ignore[no-untyped-def]
        if getattr(statement, "table", None) is ItemImage.__table__:
            statements.append(len(params or []))
        return original(self, statement, params, **kwargs)

    monkeypatch.setattr(Session, "execute", counting)
    import_opennumismat(session, owner.id, path)
    assert statements == [2, 2, 1]
    assert session.scalar(select(func.count()).select_from(ItemImage)) == 5


def test_the_row_limit_holds_for_an_opennumismat_file(session: Session, owner: User, tmp_path: Path) -> None:
    path = write_collection(tmp_path / "coins.db", [{"title": f"Coin {n}", "status": "owned"} for n in range(3)])
    with pytest.raises(InvalidInput) as refused:
        import_opennumismat(session, owner.id, path, max_rows=2)
    assert refused.value.code == "TOO_MANY_ROWS" and "2 rows" in refused.value.message
    assert "\n" not in refused.value.message and items(session) == 0
    assert import_opennumismat(session, owner.id, path, max_rows=3).created == 3


# --------------------------------------------------------------------------------------------- Discogs CSVs
RECORD = {"Artist": "Band", "Title": "Good", "release_id": "11", "Released": "1977", "Rating": "4"}


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"release_id": "99999999999999999999999"}, "release_id"), ({"release_id": str(2**31)}, "release_id"),
        ({"release_id": str(2**63 - 1)}, "release_id"), ({"release_id": "-3"}, "release_id"),
        ({"release_id": "0"}, "release_id"), ({"release_id": "1e23"}, "release_id"),
        ({"release_id": "Infinity"}, "release_id"), ({"release_id": "abc"}, "release_id"),
        ({"Released": "9999"}, "year"), ({"Released": "2101-05-00"}, "year"),
        ({"Rating": "99999999999999999999"}, "rating"), ({"Rating": "6"}, "rating"),
        ({"Collection Media Condition": "M" * 81}, "grade"),
    ],
)  # fmt: skip
def test_an_out_of_range_discogs_row_is_reported_and_the_others_import(
    session: Session, owner: User, tmp_path: Path, bad: dict[str, str], field: str
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(discogs_csv([RECORD, {**RECORD, "Title": "Bad", **bad}]), encoding="utf-8")
    report = import_discogs_csv(session, owner.id, path)
    assert report.created == 1 and [e["row"] for e in report.errors] == [3], report.errors
    reason = report.errors[0]["reason"]
    assert reason.startswith(field) and "\n" not in reason and len(reason) < 120, reason
    session.flush()
    assert session.scalars(select(Item.title)).all() == ["Band – Good"]
    assert session.scalars(select(DiscogsRelease.id)).all() == [11]
    assert session.scalars(select(Item.year)).all() == [1977]


def test_the_row_limit_holds_for_a_discogs_csv(session: Session, owner: User, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(discogs_csv([{**RECORD, "release_id": str(n)} for n in range(1, 6)]), encoding="utf-8")
    for dry_run in (True, False):
        attempt = session.begin_nested()  # the caller's transaction: the CLI and the page drop it on an error
        with pytest.raises(InvalidInput) as refused:
            import_discogs_csv(session, owner.id, path, dry_run=dry_run, max_rows=4)
        attempt.rollback()
        assert refused.value.code == "TOO_MANY_ROWS" and "4 rows" in refused.value.message
        assert "\n" not in refused.value.message and items(session) == 0
    assert import_discogs_csv(session, owner.id, path, max_rows=5).created == 5


# --------------------------------------------------------------------------------------------- other doors
def test_collection_add_and_edit_check_ranges(catalogue: Session, owner: User) -> None:
    for fields in ({"quantity": 2**63 - 1}, {"acquired_price": Decimal("1e300")}, {"acquired_price": Decimal(-1)},
                   {"year": 10**6}):  # fmt: skip
        with pytest.raises(OutOfRange):
            add_item(catalogue, owner.id, kind="coin", title="Coin", **fields)
    with pytest.raises(OutOfRange):
        add_card(catalogue, owner.id, "base1-4", price=Decimal("1e300"))
    item = add_item(catalogue, owner.id, kind="coin", title="Coin")
    with pytest.raises(OutOfRange):
        update_item(catalogue, owner.id, item.id, item.version, quantity=10**7)
    add_card(catalogue, owner.id, "base1-4", quantity=999_999)
    with pytest.raises(OutOfRange):
        add_card(catalogue, owner.id, "base1-4", quantity=2)  # the increment would pass the range


def test_a_stored_out_of_range_value_never_breaks_value(catalogue: Session, owner: User) -> None:
    """Rows written before the checks (or by hand) are read defensively: counted as 1 copy, no price."""
    huge = 2**31 - 1 if catalogue.get_bind().dialect.name == "postgresql" else 2**63 - 1  # the column's maximum
    catalogue.execute(insert(Item), [
        {"owner_id": owner.id, "kind": "coin", "title": f"Old {n}", "quantity": huge, "version": 1}
        for n in range(3)
    ])  # fmt: skip
    ids = catalogue.scalars(select(Item.id)).all()
    record_observations(catalogue, [Observation("item", str(i), "manual", "", "estimate", "EUR", Decimal("5"))
                                    for i in ids])  # fmt: skip
    document = valuation(catalogue, owner.id).to_json()
    assert (document["totalItems"], document["totalEstimatedValue"]) == (3, 15.0)


@pytest.mark.parametrize(
    ("typed", "amount"),
    [("12.50", Decimal("12.50")), (" 12.5 ", Decimal("12.50")), ("12", Decimal("12.00")), (".5", Decimal("0.50")),
     ("0", Decimal("0.00")), ("", None), ("   ", None), (None, None)],
)  # fmt: skip
def test_a_typed_amount_is_digits_and_a_dot(typed: str | None, amount: Decimal | None) -> None:
    assert parse_money(typed) == amount
    assert amount is None or parse_money(typed_money(amount)) == amount  # what a page shows reads back the same


@pytest.mark.parametrize(
    ("typed", "said"),
    [("12,50", "'12,50' has a comma: use a dot"), ("1,250", "has a comma"), ("1,250.00", "has a comma"),
     ("12.345", "is not an amount"), ("-1", "is not an amount"), ("1e3", "is not an amount"),
     ("€12", "is not an amount"), ("12.", "is not an amount"), ("1 250", "is not an amount"),
     ("9" * 13, "out of range")],
)  # fmt: skip
def test_a_typed_amount_is_never_guessed_at(typed: str, said: str) -> None:
    with pytest.raises(OutOfRange, match=said) as refusal:
        parse_money(typed, name="price paid")
    assert refusal.value.code == "INVALID_PRICE" and refusal.value.message.startswith("price paid ")
