"""Random rows thrown at the file importers (card CSVs, OpenNumismat, Discogs CSVs): no traceback ever; a clean
import (bad rows reported one line each) or a one-line InvalidInput with nothing written."""

from __future__ import annotations

import csv
import io
import itertools
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.errors import InvalidInput
from services.importers.cards_csv import import_cards_csv
from services.importers.opennumismat_import import import_opennumismat
from services.integrations.discogs.importer import CSV_COLUMNS, import_discogs_csv
from services.integrations.pokemontcg.catalog import load_offline_snapshot
from services.pricing import valuation
from services.store.models import Item, User
from tests.opennumismat_support import COIN_COLUMNS, write_collection

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NUMBERS = st.sampled_from(["99999999999999999999999", "1e23", "1e300", "Infinity", "-Infinity", "NaN", "-5",
                           str(2**63 - 1), "0", "1", "3", "1,5", "$12.50", "€1.234,56", "", "1.5", "-0"])  # fmt: skip
TEXT = st.text(max_size=30)
CELL = st.one_of(NUMBERS, TEXT, st.sampled_from(["Base Set", "Charizard", "4/102", "Near Mint", "Holofoil"]))
TCGPLAYER = ["Quantity", "Name", "Simple Name", "Set", "Card Number", "Printing", "Condition", "Language",
             "Rarity", "SKU", "Price Each"]  # fmt: skip
COLLECTR = ["Portfolio Name", "Category", "Set", "Product Name", "Card Number", "Rarity", "Variance", "Grade",
            "Card Condition", "Average Cost Paid", "Quantity", "Market Price", "Price Override", "Watchlist",
            "Date Added", "Notes"]  # fmt: skip


@pytest.fixture
def catalogue(session: Session) -> Session:
    load_offline_snapshot(session)
    return session


def _items(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Item)) or 0


def _attempt(session: Session, owner: User, run) -> None:  # type: ignore[no-untyped-def]
    """One import in a savepoint, the way the CLI and the page hold their transaction; then checks."""
    before = _items(session)
    savepoint = session.begin_nested()
    try:
        report = run()
    except InvalidInput as refused:
        savepoint.rollback()
        assert refused.message and "\n" not in refused.message
        assert _items(session) == before
        return
    session.flush()
    for error in report.errors:
        assert isinstance(error["row"], int) and "\n" not in error["reason"]
    valuation(session, owner.id)  # whatever was written adds up
    savepoint.rollback()


def _csv(headers: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows([(row * len(headers))[: len(headers)] for row in rows])
    return out.getvalue()


@FUZZ
@given(kind=st.sampled_from(["tcgplayer", "collectr"]), rows=st.lists(st.lists(CELL, min_size=1, max_size=16),
                                                                       max_size=8))  # fmt: skip
def test_random_card_rows(catalogue: Session, owner: User, kind: str, rows: list[list[str]]) -> None:
    text = _csv(TCGPLAYER if kind == "tcgplayer" else COLLECTR, rows)
    _attempt(catalogue, owner, lambda: import_cards_csv(catalogue, owner.id, text))
    _attempt(catalogue, owner, lambda: import_cards_csv(catalogue, owner.id, text.encode("cp1252", "replace")))


@FUZZ
@given(data=st.binary(max_size=2000))
def test_random_bytes_as_a_card_csv(catalogue: Session, owner: User, data: bytes) -> None:
    _attempt(catalogue, owner, lambda: import_cards_csv(catalogue, owner.id, b"Quantity,Simple Name,SKU,Condition\n"
                                                                             + data))  # fmt: skip
    _attempt(catalogue, owner, lambda: import_cards_csv(catalogue, owner.id, data))


VALUES = st.one_of(
    st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(), NUMBERS, TEXT,
    st.binary(max_size=20),
)
_files = itertools.count()


@FUZZ
@given(coins=st.lists(st.dictionaries(st.sampled_from([c for c in COIN_COLUMNS if c != "obverseimg"]), VALUES),
                      max_size=6))  # fmt: skip
def test_random_opennumismat_rows(session: Session, owner: User, coins: list[dict[str, object]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write_collection(Path(folder) / f"fuzz{next(_files)}.db", coins)
        _attempt(session, owner, lambda: import_opennumismat(session, owner.id, path))


RECORD_CELL = st.one_of(NUMBERS, TEXT, st.sampled_from(["9999", "2101-01-00", "1977-05-00", "0", "5", "6", "VG+",
                                                         "Mint (M)", str(2**31), "Band", "Vinyl, LP"]))  # fmt: skip


@FUZZ
@given(rows=st.lists(st.lists(RECORD_CELL, min_size=1, max_size=13), max_size=8), data=st.binary(max_size=500))
def test_random_discogs_csv_rows(session: Session, owner: User, rows: list[list[str]], data: bytes) -> None:
    text = _csv(list(CSV_COLUMNS), rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.csv"
        for content in (text.encode(), text.encode("cp1252", "replace"), text.encode() + data, data):
            path.write_bytes(content)
            _attempt(session, owner, lambda: import_discogs_csv(session, owner.id, path))
