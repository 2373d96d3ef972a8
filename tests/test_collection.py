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
