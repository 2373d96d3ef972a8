"""OpenNumismat reader against every reference collection file plus deliberately broken copies."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import pickle
import shutil
import sqlite3
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from services.errors import InvalidInput
from services.grades import grade_report
from services.importers import (
    STATUSES,
    OpenNumismatError,
    read_opennumismat,
)
from services.importers.opennumismat_models import ImageRef, OpenNumismatCoin, builder_classes
from services.importers.opennumismat_schema import IMAGE_COLUMNS, sniff_image_mime
from tests.fixture_files import OPENNUMISMAT_EDGE_CASES, OPENNUMISMAT_FILES, fixture_path


def _ref(name: str) -> Path:
    """A fixture collection file, read in place (a missing one: FixtureMissing naming it, never a skip)."""
    return fixture_path("opennumismat", name)


# Observed with sqlite3 (schema version, coins rows); the tests also recount independently.
EXPECTED = {
    "demo_en_v1.db": (1, 21),
    "demo_en_v2.db": (2, 21),
    "demo_en_v3.db": (3, 21),
    "demo_en_v5.db": (5, 21),
    "demo_en_v6.db": (6, 21),
    "demo_en_v8.db": (8, 21),
    "demo_en_v9.db": (9, 21),
    "demo_en_v10.db": (10, 21),
    "demo_en_v10_upgraded_20260129.db": (10, 21),
    "SYNTHETIC_edgecases_v10.db": (10, 21),
}
FILES = sorted(EXPECTED)
SYNTHETIC = OPENNUMISMAT_EDGE_CASES
assert set(FILES) == set(OPENNUMISMAT_FILES)


def _ro(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    return connection


def _fingerprint(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), stat.st_mtime_ns, stat.st_size


def _copy(name: str, tmp_path: Path, target: str | None = None) -> Path:
    destination = tmp_path / (target or name)
    shutil.copyfile(_ref(name), destination)
    os.chmod(destination, 0o644)
    return destination


def _execute(path: Path, *statements: tuple[str, tuple[object, ...]] | str) -> None:
    connection = sqlite3.connect(path)
    for statement in statements:
        if isinstance(statement, str):
            connection.execute(statement)
        else:
            connection.execute(*statement)
    connection.commit()
    connection.close()


def _coin(collection, coin_id: int) -> OpenNumismatCoin:
    return next(coin for coin in collection.coins if coin.source_row_id == coin_id)


@pytest.fixture(scope="module")
def collections():
    return {name: read_opennumismat(_ref(name)) for name in FILES}


# --- every reference file ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_reads_every_reference_file_with_exact_counts(name, collections):
    collection = collections[name]
    with _ro(_ref(name)) as connection:
        counted = connection.execute("SELECT count(*) FROM coins").fetchone()[0]
        version = int(connection.execute("SELECT value FROM settings WHERE title = 'Version'").fetchone()[0])
    assert (version, counted) == EXPECTED[name]
    assert collection.schema_version == version
    assert len(collection) == len(collection.coins) == counted
    assert sum(collection.counts_by_status.values()) == counted
    assert [coin.source_row_id for coin in collection.coins] == sorted(
        coin.source_row_id for coin in collection.coins
    )
    assert collection.password_protected is False


@pytest.mark.parametrize("name", FILES)
def test_raw_row_matches_sqlite_exactly(name, collections):
    coins = {coin.source_row_id: coin for coin in collections[name].coins}
    with _ro(_ref(name)) as connection:
        rows = connection.execute("SELECT * FROM coins").fetchall()
    assert len(rows) == len(coins)
    for row in rows:
        raw = coins[row["id"]].raw
        assert list(raw) == list(row.keys())
        for column in raw:
            expected = row[column]
            if isinstance(expected, bytes):
                assert raw[column] is None  # inline BLOBs are read through ImageRef only
            else:
                assert raw[column] == expected and type(raw[column]) is type(expected), column


def _text(value):
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip() or None


@pytest.mark.parametrize("name", FILES)
def test_field_by_field_fidelity(name, collections):
    coins = {coin.source_row_id: coin for coin in collections[name].coins}
    with _ro(_ref(name)) as connection:
        rows = connection.execute("SELECT * FROM coins").fetchall()
    for row in rows:
        coin = coins[row["id"]]
        cells = dict(row)
        assert coin.title == _text(cells["title"])
        assert coin.country == _text(cells["country"])
        assert coin.unit == _text(cells["unit"])
        assert coin.series == _text(cells["series"])
        assert coin.mint == _text(cells["mint"])
        assert coin.mintmark == _text(cells["mintmark"])
        assert coin.grade_raw == _text(cells["grade"])
        assert coin.status_raw == cells["status"]
        assert coin.material == _text(cells.get("material", cells.get("metal")))
        weight = cells.get("weight", cells.get("mass"))
        assert coin.weight == (float(weight) if weight not in (None, "") else None)
        diameter = cells["diameter"]
        assert coin.diameter == (float(diameter) if diameter not in (None, "") else None)
        value = cells["value"]
        assert coin.value == (Decimal(repr(value)) if isinstance(value, float) else value if value else None)
        year = cells["year"]
        assert coin.year == (int(year) if year not in (None, "") else None)
        for column in ("catalognum1", "catalognum2", "catalognum3", "catalognum4", "payplace", "saleplace"):
            assert getattr(coin, column) == _text(cells[column])
        for column in ("price1", "price2", "price3", "price4", "saleprice"):
            cell = cells[column]
            expected = (
                Decimal(repr(cell))
                if isinstance(cell, float)
                else Decimal(cell)
                if isinstance(cell, int)
                else None
            )
            assert getattr(coin, column) == expected
        assert coin.url == _text(cells.get("url"))
        assert coin.storage == _text(cells["storage"])
        created = cells["createdat"]
        if created:
            assert coin.created_at == datetime.fromisoformat(created).replace(tzinfo=UTC)
        assert coin.status in (*STATUSES, "unknown")


def test_columns_missing_in_old_schemas_are_none(collections):
    v1 = collections["demo_en_v1.db"]
    assert "quantity" not in v1.columns and "metal" in v1.columns
    for coin in v1.coins:
        assert coin.quantity is None and coin.url is None and coin.category is None and coin.grader is None
        assert coin.material is not None  # read from `metal`
    v5 = collections["demo_en_v5.db"]
    assert "category" not in v5.columns
    assert all(coin.category is None and coin.sort_id is None for coin in v5.coins)
    v10 = collections["demo_en_v10.db"]
    assert len(v10.columns) == 110
    assert all(coin.sort_id is not None for coin in v10.coins)


def test_collection_level_info(collections):
    synthetic = collections[SYNTHETIC]
    assert synthetic.title == "Synthetic edge cases"
    assert synthetic.author == "fixture"
    assert synthetic.settings["rich_text"] == "True"
    assert synthetic.field_titles["catalognum1"] == "KM#"
    assert synthetic.field_titles["grade"] == "Grade"
    assert synthetic.status_titles["owned"] == "In collection"
    assert synthetic.status_titles["wish"] == "Wish"
    assert collections["demo_en_v10.db"].title == "demo_en"
    assert collections["demo_en_v1.db"].title is None  # no description table in schema 1


# --- statuses, grades, values ----------------------------------------------------------------------------


def test_all_eleven_statuses(collections):
    synthetic = collections[SYNTHETIC]
    expected = ["demo", "pass", "owned", "ordered", "sold", "sale", "wish", "missing", "bidding", "duplicate",
                "replacement"]  # fmt: skip
    assert [_coin(synthetic, coin_id).status for coin_id in range(1, 12)] == expected
    assert [_coin(synthetic, coin_id).status_raw for coin_id in range(1, 12)] == expected
    assert dict(synthetic.counts_by_status) == {
        "demo": 9, "bidding": 1, "ordered": 1, "owned": 3, "duplicate": 1, "replacement": 1, "sold": 1,
        "wish": 1, "sale": 1, "missing": 1, "pass": 1,
    }  # fmt: skip
    assert list(synthetic.counts_by_status) == [status for status in STATUSES if status in expected]
    for name in FILES:
        if name != SYNTHETIC:
            assert dict(collections[name].counts_by_status) == {"demo": 19, "owned": 2}


def test_unknown_and_titled_statuses(tmp_path):
    path = _copy(SYNTHETIC, tmp_path)
    _execute(
        path,
        "UPDATE coins SET status = ' Owned ' WHERE id = 1",
        "UPDATE coins SET status = 'In collection' WHERE id = 2",
        "UPDATE coins SET status = 'lost at sea' WHERE id = 3",
        "UPDATE coins SET status = '' WHERE id = 4",
        "UPDATE coins SET status = NULL WHERE id = 5",
    )
    collection = read_opennumismat(path)
    assert [_coin(collection, i).status for i in range(1, 6)] == [
        "owned",
        "owned",
        "unknown",
        "unknown",
        "unknown",
    ]
    assert _coin(collection, 3).status_raw == "lost at sea"
    assert _coin(collection, 5).status_raw is None


def test_grades_and_grade_report(collections):
    synthetic = collections[SYNTHETIC]
    grades = {coin.source_row_id: coin.grade_raw for coin in synthetic.coins}
    assert [grades[i] for i in (3, 4, 5, 6, 8, 10, 11, 12, 13, 20, 21)] == [
        "Unc", "AU", "VF", "F", "xf", "65", "MS-63", "vz", None, "XF", "XF",
    ]  # fmt: skip
    assert _coin(synthetic, 10).grader == "NGC" and _coin(synthetic, 10).barcode == "1234567-065"
    assert _coin(synthetic, 11).grader == "PCGS"
    report = grade_report(coin.grade_raw for coin in synthetic.coins)
    assert report == {"f": 1, "vf": 1, "xf": 4, "au": 1, "unc": 3, "unmapped": 11}


def test_buy_sale_catalogue_and_text_in_numeric_columns(collections):
    synthetic = collections[SYNTHETIC]
    owned = _coin(synthetic, 3)
    assert owned.payprice == Decimal("2.5") and owned.paydate == date(2023, 5, 14)
    assert owned.storage == "Album 1" and owned.seat == "p3 r2 c4"
    assert owned.features == "Line1\nLine2"
    sold = _coin(synthetic, 5)
    assert sold.saledate == date(2023, 9, 9) and sold.saleprice == Decimal("6")
    assert (sold.payprice, sold.totalpayprice, sold.totalsaleprice) == (
        Decimal(1),
        Decimal(1),
        Decimal("5.4"),
    )
    assert sold.buyer == "Collector X" and sold.raw["sale_invoice"] == "S-77"
    passed = _coin(synthetic, 2)
    assert passed.saledate == date(2024, 6, 1) and passed.saleprice == Decimal("2")
    assert (passed.payprice, passed.paid, passed.seller, passed.buyer) == (
        None,
        Decimal("1.5"),
        "Dealer A",
        "Dealer B",
    )
    assert (
        owned.totalpayprice == Decimal("3.1")
        and owned.paid == Decimal("3.1")
        and owned.seller == "Local dealer"
    )
    wish = _coin(synthetic, 7)
    assert (wish.price1, wish.price2, wish.price3, wish.price4) == tuple(
        map(Decimal, ("0.5", "0.8", "1.2", "2"))
    )
    assert wish.catalogue_values == {
        "f": Decimal("0.5"),
        "vf": Decimal("0.8"),
        "xf": Decimal("1.2"),
        "unc": Decimal("2"),
    }
    text_price = _coin(synthetic, 11)
    assert text_price.payprice is None and text_price.raw["payprice"] == "about 5"
    assert _coin(synthetic, 10).quantity == 3
    pcs = _coin(synthetic, 20)
    assert pcs.quantity == 2 and pcs.raw["quantity"] == "2 pcs"
    empty = _coin(synthetic, 1)
    assert empty.raw["payprice"] == "" and empty.payprice is None and empty.quantity is None


def test_html_note_kept_verbatim(collections):
    note = _coin(collections[SYNTHETIC], 4).note
    assert note is not None and note.startswith("<!DOCTYPE HTML") and "<b>fair</b>" in note


def test_date_sentinel_is_no_date(collections):
    synthetic = collections[SYNTHETIC]
    sentinel = _coin(synthetic, 6)
    assert sentinel.raw["paydate"] == "2000-01-01" and sentinel.paydate is None
    sentinel_cells = 0
    for name in FILES:
        for coin in collections[name].coins:
            for column, value in (("issuedate", coin.issue_date), ("paydate", coin.paydate),
                                  ("saledate", coin.saledate)):  # fmt: skip
                if column in coin.raw and coin.raw[column] == "2000-01-01":
                    sentinel_cells += 1
                    assert value is None
                assert value != date(2000, 1, 1)
    assert sentinel_cells >= 13  # notes §4: 13 coins carry the sentinel in the old demo files


def test_bc_years_negative_and_textual(tmp_path):
    path = _copy("demo_en_v10.db", tmp_path)
    _execute(
        path,
        "UPDATE coins SET year = -300 WHERE id = 1",
        "UPDATE coins SET year = '44 BC' WHERE id = 2",
        "UPDATE coins SET year = '2004.0' WHERE id = 3",
        "UPDATE coins SET year = 'circa 1900' WHERE id = 4",
        "UPDATE coins SET year = '' WHERE id = 5",
    )
    collection = read_opennumismat(path)
    assert [_coin(collection, i).year for i in range(1, 6)] == [-300, -44, 2004, None, None]
    assert _coin(collection, 4).raw["year"] == "circa 1900"


def test_tags_per_schema(collections):
    synthetic = collections[SYNTHETIC]
    assert [tag.path for tag in synthetic.tags] == [("Euro",), ("Euro", "Commemoratives")]
    assert synthetic.tags[0].description == "all euro coins"
    assert _coin(synthetic, 3).tags == ("Euro",)
    assert _coin(synthetic, 20).tags == ("Euro", "Commemoratives")
    assert _coin(synthetic, 21).tags == ("Commemoratives",)
    assert _coin(synthetic, 1).tags == ()
    for name in ("demo_en_v1.db", "demo_en_v5.db", "demo_en_v9.db", "demo_en_v10.db"):
        assert collections[name].tags == ()
        assert all(coin.tags == () for coin in collections[name].coins)


# --- images ----------------------------------------------------------------------------------------------

MAGIC_MIME = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG", "image/webp": b"RIFF"}


@pytest.mark.parametrize("name", FILES)
def test_images_resolve_with_correct_mime(name, collections):
    collection = collections[name]
    with collection.images() as loader:
        for coin in collection.coins:
            refs = [*coin.photos, *([coin.thumbnail] if coin.thumbnail else [])]
            assert refs, f"coin {coin.source_row_id} has no image refs"
            for ref in refs:
                image = loader.load(ref)
                assert image is not None, ref
                assert image.data.startswith(MAGIC_MIME[image.mime])
                assert image.mime == sniff_image_mime(image.data)


def test_image_storage_per_schema(collections):
    v1 = collections["demo_en_v1.db"].coins[0]
    assert v1.thumbnail == ImageRef("image", "coins", 1, "image")
    assert {ref.table for ref in v1.photos} == {"coins"}
    v2 = collections["demo_en_v2.db"].coins[0]
    assert v2.thumbnail is not None and v2.thumbnail.table == "coins"
    assert {ref.table for ref in v2.photos} == {"images"}
    for name in ("demo_en_v3.db", "demo_en_v9.db", "demo_en_v10.db"):
        coin = collections[name].coins[0]
        assert coin.thumbnail is not None and coin.thumbnail.table == "images" and coin.thumbnail.is_thumbnail
        assert {ref.table for ref in coin.photos} == {"photos"}
        assert [ref.field for ref in coin.photos] == ["obverseimg", "reverseimg", "edgeimg"]


def test_mixed_webp_and_jpeg_photos(collections):
    collection = collections["demo_en_v10_upgraded_20260129.db"]
    refs = [ref for coin in collection.coins for ref in coin.photos]
    with _ro(_ref("demo_en_v10_upgraded_20260129.db")) as connection:
        assert len(set(refs)) == connection.execute("SELECT count(*) FROM photos").fetchone()[0] == 53
    with collection.images() as loader:
        mimes = [loader.load(ref).mime for ref in refs]
        previews = {loader.load(coin.thumbnail).mime for coin in collection.coins if coin.thumbnail}
    assert mimes.count("image/webp") == 42 and mimes.count("image/jpeg") == 11
    assert previews == {"image/webp"}
    v9 = collections["demo_en_v9.db"]
    assert v9.load_image(v9.coins[0].thumbnail).mime == "image/png"
    assert v9.load_image(v9.coins[0].photos[0]).mime == "image/jpeg"


def test_photo_metadata_and_missing_rows(collections):
    synthetic = collections[SYNTHETIC]
    coin = _coin(synthetic, 3)
    obverse = next(ref for ref in coin.photos if ref.field == "obverseimg")
    with _ro(_ref(SYNTHETIC)) as connection:
        row = connection.execute("SELECT * FROM photos WHERE id = ?", (obverse.row_id,)).fetchone()
    image = synthetic.load_image(obverse)
    assert image is not None
    assert (image.title, image.author, image.license, image.source) == (
        row["title"], row["author"], row["license"], row["source"])  # fmt: skip
    assert image.title is not None and image.data == row["image"]
    assert synthetic.load_image(ImageRef("photo1", "photos", 999_999, "image")) is None
    assert synthetic.load_image(ImageRef("photo1", "sqlite_master", 1, "image")) is None


def test_images_are_not_loaded_eagerly(collections):
    for coin in collections["demo_en_v1.db"].coins:
        assert all(not isinstance(value, bytes) for value in coin.raw.values())
        assert coin.raw["obverseimg"] is None  # BLOB stays in the file
    assert IMAGE_COLUMNS[0] == "image"


def test_image_loader_refuses_a_changed_file(tmp_path):
    path = _copy("demo_en_v10.db", tmp_path)
    collection = read_opennumismat(path)
    ref = collection.coins[0].photos[0]
    assert collection.load_image(ref) is not None
    _execute(path, "UPDATE coins SET title = 'changed' WHERE id = 1")
    with pytest.raises(OpenNumismatError) as caught:
        collection.load_image(ref)
    assert caught.value.code == "OPENNUMISMAT_CHANGED"


# --- Numista links inside a file -------------------------------------------------------------------------


def test_numista_links_and_numisync_note(tmp_path):
    path = _copy(SYNTHETIC, tmp_path)
    block = {
        "version": "2.0",
        "basicData": {"status": "MERGED", "numistaId": 9876},
        "issueData": {"status": "MERGED", "issueId": 54321},
        "pricingData": {"status": "MERGED"},
    }
    note = "Grandfather's coin.\n\n<!-- NUMISMAT_ENRICHMENT_DATA\n" + json.dumps(block, indent=2) + "\n-->"
    _execute(
        path,
        ("UPDATE coins SET note = ? WHERE id = 1", (note,)),
        "UPDATE coins SET url = 'https://fr.numista.com/catalogue/pieces1234.html' WHERE id = 2",
        "UPDATE coins SET catalognum4 = '5678' WHERE id = 3",
        "UPDATE coins SET url = 'C:/coins/notes.txt', catalognum4 = 'KM# 5' WHERE id = 4",
    )
    collection = read_opennumismat(path)
    first = _coin(collection, 1)
    assert (first.numista_type_id, first.numista_issue_id, first.numista_source) == (9876, 54321, "numisync")
    assert first.note == "Grandfather's coin."
    assert first.raw["note"] == note
    assert (_coin(collection, 2).numista_type_id, _coin(collection, 2).numista_source) == (1234, "url")
    assert (_coin(collection, 3).numista_type_id, _coin(collection, 3).numista_source) == (
        5678,
        "catalognum4",
    )
    fourth = _coin(collection, 4)
    assert fourth.numista_type_id is None and fourth.url == "C:/coins/notes.txt"
    assert fourth.note is not None and fourth.note.startswith("<!DOCTYPE")


# --- robustness ------------------------------------------------------------------------------------------


def test_invalid_utf8_text_is_read_leniently(tmp_path):
    path = _copy("demo_en_v10.db", tmp_path)
    _execute(path, "UPDATE coins SET title = CAST(x'ff41' AS TEXT) WHERE id = 1")
    collection = read_opennumismat(path)
    assert _coin(collection, 1).title == "\ufffdA"
    assert len(collection) == 21


def test_minimal_collection_with_few_columns(tmp_path):
    path = tmp_path / "minimal.db"
    _execute(
        path,
        "CREATE TABLE settings (title CHAR NOT NULL UNIQUE, value CHAR)",
        "INSERT INTO settings VALUES ('Version', '10'), ('Type', 'OpenNumismat')",
        "CREATE TABLE coins (id INTEGER PRIMARY KEY, title TEXT, status TEXT, grade TEXT)",
        "INSERT INTO coins VALUES (7, ' Thaler ', 'owned', 'vz')",
    )
    collection = read_opennumismat(path)
    coin = collection.coins[0]
    assert (coin.source_row_id, coin.title, coin.status, coin.grade_raw) == (7, "Thaler", "owned", "vz")
    assert coin.photos == () and coin.thumbnail is None and coin.tags == () and coin.year is None
    assert dict(coin.raw) == {"id": 7, "title": " Thaler ", "status": "owned", "grade": "vz"}
    assert collection.title is None and collection.tags == ()


def test_journal_sidecar_and_read_only_file(tmp_path):
    path = _copy("demo_en_v10.db", tmp_path)
    (tmp_path / "demo_en_v10.db-journal").write_bytes(b"")  # cold journal: not hot, must not break reading
    os.chmod(path, 0o444)
    try:
        assert len(read_opennumismat(path)) == 21
    finally:
        os.chmod(path, 0o644)


def test_immutable_modes_read_the_same(tmp_path):
    path = _copy("demo_en_v10.db", tmp_path)
    auto, forced, locked = (read_opennumismat(path, immutable=flag) for flag in (None, True, False))
    assert auto.coins == forced.coins == locked.coins
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo_en_v10.db"]


def test_a_file_being_written_is_not_read_half_done(tmp_path):
    # A writable file may belong to a running OpenNumismat: the reader takes SQLite's shared lock (no
    # `immutable`), so an exclusive writer makes it wait and then fail cleanly instead of reading torn pages.
    path = _copy("demo_en_v10.db", tmp_path)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(OpenNumismatError) as caught:
            read_opennumismat(path)
        assert caught.value.code == "OPENNUMISMAT_LOCKED"
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert len(read_opennumismat(path)) == 21


def test_password_gate(tmp_path):
    path = _copy("demo_en_v10.db", tmp_path)
    digest = hashlib.md5(b"s3cret").hexdigest()
    _execute(path, ("UPDATE settings SET value = ? WHERE title = 'Password'", (digest,)))
    with pytest.raises(OpenNumismatError) as required:
        read_opennumismat(path)
    assert required.value.code == "OPENNUMISMAT_PASSWORD_REQUIRED"
    with pytest.raises(OpenNumismatError) as wrong:
        read_opennumismat(path, password="nope")
    assert wrong.value.code == "OPENNUMISMAT_WRONG_PASSWORD"
    collection = read_opennumismat(path, password="s3cret")
    assert collection.password_protected and len(collection) == 21


def _sqlite_file(path: Path, *statements: str) -> Path:
    _execute(path, *statements)
    return path


BROKEN_CASES = {
    "empty": ("OPENNUMISMAT_EMPTY", lambda tmp: _write(tmp / "empty.db", b"")),
    "text": ("OPENNUMISMAT_NOT_SQLITE", lambda tmp: _write(tmp / "notes.db", b"id;title\n1;Thaler\n" * 20)),
    "short-header": (
        "OPENNUMISMAT_TRUNCATED",
        lambda tmp: _write(tmp / "short.db", b"SQLite format 3\x00\x10"),
    ),
    "truncated-half": ("OPENNUMISMAT_TRUNCATED", lambda tmp: _truncate(tmp, 0.5)),
    "truncated-page-boundary": ("OPENNUMISMAT_TRUNCATED", lambda tmp: _truncate(tmp, pages=3)),
    "garbage-pages": ("OPENNUMISMAT_CORRUPT", lambda tmp: _garbage(tmp)),
    "other-sqlite": (
        "OPENNUMISMAT_NOT_OPENNUMISMAT",
        lambda tmp: _sqlite_file(tmp / "other.db", "CREATE TABLE albums (id INTEGER PRIMARY KEY, name TEXT)"),
    ),
    "coins-without-settings-version": (
        "OPENNUMISMAT_NOT_OPENNUMISMAT",
        lambda tmp: _sqlite_file(
            tmp / "nover.db",
            "CREATE TABLE coins (id INTEGER PRIMARY KEY)",
            "CREATE TABLE settings (title, value)",
        ),
    ),
    "mobile-export": (
        "OPENNUMISMAT_NOT_OPENNUMISMAT",
        lambda tmp: _edit(tmp, "UPDATE settings SET value = 'Mobile' WHERE title = 'Type'"),
    ),
    "newer-version": (
        "OPENNUMISMAT_UNSUPPORTED_VERSION",
        lambda tmp: _edit(tmp, "UPDATE settings SET value = '11' WHERE title = 'Version'"),
    ),
    "unreadable-version": (
        "OPENNUMISMAT_CORRUPT",
        lambda tmp: _edit(tmp, "UPDATE settings SET value = 'ten' WHERE title = 'Version'"),
    ),
    "missing": ("OPENNUMISMAT_NOT_FOUND", lambda tmp: tmp / "does-not-exist.db"),
    "directory": ("OPENNUMISMAT_NOT_FOUND", lambda tmp: tmp),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncate(tmp: Path, fraction: float = 0.0, pages: int = 0) -> Path:
    data = (_ref("demo_en_v10.db")).read_bytes()
    page_size = int.from_bytes(data[16:18], "big")
    size = pages * page_size if pages else int(len(data) * fraction) + 7
    return _write(tmp / "truncated.db", data[:size])


def _garbage(tmp: Path) -> Path:
    data = bytearray((_ref("demo_en_v10.db")).read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    data[page_size:] = hashlib.sha256(b"x").digest() * ((len(data) - page_size) // 32)
    return _write(tmp / "garbage.db", bytes(data))


def _edit(tmp: Path, statement: str) -> Path:
    path = _copy("demo_en_v10.db", tmp, "edited.db")
    _execute(path, statement)
    return path


@pytest.mark.parametrize("case", sorted(BROKEN_CASES))
def test_broken_files_raise_one_line_errors(case, tmp_path):
    code, make = BROKEN_CASES[case]
    path = make(tmp_path)
    with pytest.raises(OpenNumismatError) as caught:
        read_opennumismat(path)
    error = caught.value
    assert error.code == code, error.message
    assert isinstance(error, InvalidInput)
    assert error.message and "\n" not in error.message and len(error.message) < 200
    assert str(error) == error.message
    assert error.to_json()["error"]["code"] == code


@pytest.mark.parametrize("name", FILES)
def test_source_file_is_never_modified(name, tmp_path):
    # On a writable copy, so a write attempt would succeed (and be caught) rather than fail silently.
    path = _copy(name, tmp_path)
    before = _fingerprint(path)
    collection = read_opennumismat(path)
    with collection.images() as loader:
        for coin in collection.coins[:5]:
            loader.load_many([*coin.photos, *([coin.thumbnail] if coin.thumbnail else [])])
    assert _fingerprint(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no -journal/-wal/-shm left behind


def test_reference_files_match_their_manifest(collections):
    # The module fixture read every fixture file in place; they must still be the bytes the builder wrote.
    manifest = fixture_path("SHA256SUMS").read_text(encoding="utf-8")
    for name in FILES:
        digest = hashlib.sha256((_ref(name)).read_bytes()).hexdigest()
        assert f"{digest}  opennumismat/{name}" in manifest


# --- dataclasses -----------------------------------------------------------------------------------------


def test_results_are_frozen_and_fast_built_instances_are_ordinary(collections):
    coin = collections[SYNTHETIC].coins[2]
    with pytest.raises(dataclasses.FrozenInstanceError):
        coin.title = "x"  # type: ignore[misc]
    assert type(coin) is OpenNumismatCoin
    values = [getattr(coin, field.name) for field in dataclasses.fields(OpenNumismatCoin)]
    assert OpenNumismatCoin(*values) == coin
    assert hash(OpenNumismatCoin(*values)) == hash(coin)
    assert repr(OpenNumismatCoin(*values)) == repr(coin)
    twin, cls = builder_classes(ImageRef)
    ref = twin("image", "images", 1, "image")
    ref.__class__ = cls
    assert ref == ImageRef("image", "images", 1, "image") and hash(ref) == hash(
        ImageRef("image", "images", 1, "image")
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.row_id = 2  # type: ignore[misc]


def test_collection_pickles_for_caching(collections):
    collection = collections[SYNTHETIC]
    clone = pickle.loads(pickle.dumps(collection))
    assert clone.coins == collection.coins
    assert [dict(coin.raw) for coin in clone.coins] == [dict(coin.raw) for coin in collection.coins]
    assert clone.counts_by_status == collection.counts_by_status and clone.settings == collection.settings
    assert clone.load_image(clone.coins[0].photos[0]) == collection.load_image(collection.coins[0].photos[0])


# --- the benchmark generator (small) ---------------------------------------------------------------------


def test_bench_generator_roundtrip(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "opennumismat_bench", Path(__file__).resolve().parents[1] / "bench" / "opennumismat_import.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    path = bench.generate_collection(tmp_path / "bench.db", coins=400, photo_fraction=0.2, seed=7)
    collection = read_opennumismat(path)
    assert len(collection) == 400 and collection.schema_version == 10
    assert sum(collection.counts_by_status.values()) == 400
    assert any(coin.year is not None and coin.year < 0 for coin in collection.coins)
    assert any(coin.numista_source == "numisync" for coin in collection.coins)
    assert all("NUMISMAT_ENRICHMENT_DATA" not in (coin.note or "") for coin in collection.coins)
    with collection.images() as loader:
        photos = [loader.load(ref) for coin in collection.coins for ref in coin.photos]
    assert photos and {image.mime for image in photos} <= {"image/webp", "image/jpeg"}
