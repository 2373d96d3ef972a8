"""Collection entries: duplicate strategies, validation, optimistic concurrency."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.collection import ItemFilter, add_card, add_item, count_items, get_item, list_items, update_item
from services.errors import Conflict, InvalidInput, NotFound, StaleEdit
from services.integrations.pokemontcg.catalog import load_offline_snapshot
from services.store.db import session_scope
from services.store.models import User
from services.text import natural_sort_key


@pytest.fixture
def catalogue(session: Session) -> None:
    load_offline_snapshot(session)


def test_increment_adds_to_the_matching_entry(session: Session, owner: User, catalogue: None) -> None:
    first, created = add_card(session, owner.id, "base1-4", quantity=1, printing="holofoil")
    again, created_again = add_card(session, owner.id, "base1-4", quantity=2, printing="holofoil")
    assert created and not created_again
    assert again.id == first.id and again.quantity == 3
    other_condition, created_lp = add_card(session, owner.id, "base1-4", condition="LP", printing="holofoil")
    assert created_lp and other_condition.id != first.id
    assert count_items(session, owner.id) == 2


def test_separate_refuses_an_identical_entry(session: Session, owner: User, catalogue: None) -> None:
    add_card(session, owner.id, "base1-4", strategy="separate")
    with pytest.raises(Conflict) as refused:
        add_card(session, owner.id, "base1-4", strategy="separate")
    assert refused.value.code == "DUPLICATE_ENTRY"
    assert count_items(session, owner.id) == 1


@pytest.mark.parametrize("quantity", [0, -1])
def test_quantity_must_be_positive(session: Session, owner: User, catalogue: None, quantity: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        add_card(session, owner.id, "base1-4", quantity=quantity)
    assert refused.value.code == "INVALID_QUANTITY"


def test_unknown_card_is_a_clear_error(session: Session, owner: User, catalogue: None) -> None:
    with pytest.raises(NotFound, match="not in the catalogue"):
        add_card(session, owner.id, "nope-1")


def test_a_stale_edit_is_refused_and_changes_nothing(engine: Engine, owner: User, session: Session) -> None:
    item = add_item(session, owner.id, kind="coin", title="1 euro DE", quantity=1)
    session.commit()
    opened_version = item.version
    with session_scope(engine) as first_tab:
        update_item(first_tab, owner.id, item.id, opened_version, quantity=5)
    with pytest.raises(StaleEdit, match="changed elsewhere"), session_scope(engine) as second_tab:
        update_item(second_tab, owner.id, item.id, opened_version, notes="overwrite?")
    with session_scope(engine) as check:
        stored = get_item(check, owner.id, item.id)
        assert (stored.quantity, stored.notes, stored.version) == (5, None, opened_version + 1)


def test_a_field_kept_in_details_is_edited_like_a_column_and_a_stale_one_refused(
    engine: Engine, owner: User, session: Session
) -> None:
    """A coin's face value and mint, a record's artist and sleeve live in ``details``: an edit sets them beside
    what an import kept, bumps the version like any edit, and one made on an older version is refused."""
    coin = add_item(session, owner.id, kind="coin", title="2 euro", details={"material": "Bimetallic", "mint": "Paris"})
    record = add_item(session, owner.id, kind="record", title="Stockholm", grade="VG+")
    session.commit()
    opened = coin.version
    with session_scope(engine) as tab:
        update_item(tab, owner.id, coin.id, opened, face_value="2.00", face_unit="Euro", mint="", mintmark="A")
        update_item(tab, owner.id, record.id, record.version, artist="The Persuader", sleeve="generic", grade="nm")
    with pytest.raises(StaleEdit), session_scope(engine) as late:
        update_item(late, owner.id, coin.id, opened, face_value="1")
    with pytest.raises(InvalidInput, match="face value '-2' is out of range"), session_scope(engine) as bad:
        update_item(bad, owner.id, coin.id, opened + 1, face_value="-2")
    with pytest.raises(InvalidInput, match="sleeve condition must be one of"), session_scope(engine) as bad:
        update_item(bad, owner.id, record.id, record.version + 1, sleeve="like new")
    with session_scope(engine) as check:
        stored = get_item(check, owner.id, coin.id)
        assert stored.details == {"material": "Bimetallic", "value": "2", "unit": "Euro", "mintmark": "A"}
        assert stored.version == opened + 1
        stored_record = get_item(check, owner.id, record.id)
        assert stored_record.details == {"artist": "The Persuader", "sleeve_condition": "Generic"}
        assert (stored_record.grade, stored_record.grade_code) == ("nm", "Near Mint (NM or M-)")  # its Discogs grade


def test_filters_and_paging(session: Session, owner: User) -> None:
    for n in range(30):
        add_item(session, owner.id, kind="coin" if n % 3 else "record", title=f"Item {n:02d}")
    assert count_items(session, owner.id, ItemFilter(kind="record")) == 10
    page = list_items(session, owner.id, ItemFilter(kind="coin"), limit=7, offset=14)
    assert [i.title for i in page] == sorted(i.title for i in page) and len(page) == 6
    assert count_items(session, owner.id, ItemFilter(sync_status="NOT_SYNCED")) == 30
    assert count_items(session, owner.id, ItemFilter(sync_status="SYNCED")) == 0


def test_natural_sort_key_orders_card_numbers_like_collectors() -> None:
    numbers = ["10", "TG10", "4", "102", "TG01", "1", "SV2"]
    assert sorted(numbers, key=natural_sort_key) == ["1", "4", "10", "102", "SV2", "TG01", "TG10"]
