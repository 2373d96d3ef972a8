"""OpenNumismat import into the collection: exact counts, fidelity, idempotent re-import, merge that keeps
the user's edits, broken files writing nothing."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.collection import list_items, update_item
from services.errors import InvalidInput
from services.importers.opennumismat_import import import_opennumismat
from services.pricing import valuation
from services.store.models import Item, ItemImage, User
from tests.fixture_files import OPENNUMISMAT_FILES, opennumismat_file

FILES = [opennumismat_file(name) for name in OPENNUMISMAT_FILES]  # a missing one: FixtureMissing, not a skip
EDGE = opennumismat_file()


def _rows(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM coins").fetchone()[0]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_reference_file_imports_every_row(session: Session, owner: User, path: Path) -> None:
    report = import_opennumismat(session, owner.id, path)
    assert (report.created, report.skipped, report.errors) == (_rows(path), 0, [])
    assert session.scalar(select(func.count()).select_from(Item).where(Item.owner_id == owner.id)) == _rows(path)
    again = import_opennumismat(session, owner.id, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, _rows(path))


def test_edge_case_fields_arrive_intact(session: Session, owner: User) -> None:
    report = import_opennumismat(session, owner.id, EDGE, currency="EUR")
    assert report.by_status == {"demo": 9, "pass": 1, "owned": 3, "ordered": 1, "sold": 1, "sale": 1, "wish": 1,
                                "missing": 1, "bidding": 1, "duplicate": 1, "replacement": 1}  # fmt: skip
    items = {int(i.origin_row_id): i for i in list_items(session, owner.id)}
    unc = items[3]  # "10 cent DE (new map)", Unc, paid 2.5 on 2023-05-14, owned
    assert (unc.title, unc.grade, unc.grade_code, unc.status) == ("10 cent DE (new map)", "Unc", "unc", "owned")
    assert (unc.acquired_price, unc.acquired_date, unc.acquired_currency) == (Decimal("2.5"), date(2023, 5, 14), "EUR")
    assert items[6].acquired_date is None, "2000-01-01 is OpenNumismat's empty date"
    assert items[11].grade == "MS-63" and items[11].grade_code == "unc"
    assert items[11].acquired_price is None, "'about 5' is not an amount"
    assert items[7].details["price1"] == "0.5" and items[7].status == "wish"
    with sqlite3.connect(f"file:{EDGE}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        for row in db.execute("SELECT id, title, country, material, weight FROM coins"):
            item = items[row["id"]]
            assert (item.title, item.country) == (row["title"], row["country"])
            assert item.details.get("material") == row["material"]
            assert item.details.get("weight") == (float(row["weight"]) if row["weight"] not in (None, "") else None)


def test_catalogue_prices_value_held_coins(session: Session, owner: User, tmp_path: Path) -> None:
    edited = tmp_path / "mine.db"
    shutil.copy(EDGE, edited)
    with sqlite3.connect(edited) as db:
        db.execute("UPDATE coins SET price1=1, price2=2, price3=3, price4=4 WHERE id IN (3, 4, 8)")
    import_opennumismat(session, owner.id, edited)
    # 3: Unc → price4 = 4; 4: AU has no catalogue column → no price; 8: "xf" (missing status, still held) → 3
    report = valuation(session, owner.id, "EUR").to_json()
    quantities = {int(i.origin_row_id): i.quantity for i in list_items(session, owner.id)}
    assert report["totalEstimatedValue"] == pytest.approx(4 * quantities[3] + 3 * quantities[8])


def test_reimport_of_an_edited_file_updates_only_what_changed(session: Session, owner: User, tmp_path: Path) -> None:
    copy = tmp_path / "collection.db"
    shutil.copy(EDGE, copy)
    import_opennumismat(session, owner.id, copy)
    mine = next(i for i in list_items(session, owner.id) if i.origin_row_id == "3")
    update_item(session, owner.id, mine.id, mine.version, notes="my own note", storage_location="Album 2")
    with sqlite3.connect(copy) as db:
        db.execute("UPDATE coins SET grade='AU', storage='Box 9' WHERE id=3")
        db.execute("UPDATE coins SET title='20 cent DE (renamed)' WHERE id=4")
    preview = import_opennumismat(session, owner.id, copy, dry_run=True)
    assert (preview.created, preview.updated, preview.unchanged) == (0, 2, 19)
    session.refresh(mine)
    assert mine.grade == "Unc", "a dry run writes nothing"
    report = import_opennumismat(session, owner.id, copy)
    assert (report.created, report.updated, report.unchanged) == (0, 2, 19)
    session.refresh(mine)
    assert (mine.grade, mine.grade_code) == ("AU", "au")
    assert mine.storage_location == "Box 9", "the file changed storage, so the file wins"
    assert mine.notes == "my own note", "the file did not change the note: the user's edit stays"


def test_images_are_stored_with_their_type(session: Session, owner: User) -> None:
    import_opennumismat(session, owner.id, opennumismat_file("demo_en_v10.db"))
    mimes = set(session.scalars(select(ItemImage.mime)))
    assert mimes and mimes <= {"image/jpeg", "image/png", "image/webp"}


@pytest.mark.parametrize("content", [b"", b"not a database at all", b"SQLite format 3\x00" + b"\x00" * 50])
def test_broken_files_give_one_line_and_write_nothing(
    session: Session, owner: User, tmp_path: Path, content: bytes
) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(content)
    with pytest.raises(InvalidInput) as refused:
        import_opennumismat(session, owner.id, bad)
    assert "\n" not in refused.value.message
    assert session.scalar(select(func.count()).select_from(Item)) == 0


def test_a_truncated_file_is_refused(session: Session, owner: User, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(EDGE.read_bytes()[: EDGE.stat().st_size // 3])
    with pytest.raises(InvalidInput):
        import_opennumismat(session, owner.id, truncated)
    assert session.scalar(select(func.count()).select_from(Item)) == 0
