"""Collection entries: duplicate strategies, validation, optimistic concurrency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.collection import (
    ItemFilter,
    add_card,
    add_item,
    count_items,
    find_items,
    get_item,
    list_items,
    update_item,
)
from services.errors import Conflict, InvalidInput, NotFound, StaleEdit
from services.integrations.pokemontcg.catalog import load_offline_snapshot
from services.store.db import session_scope
from services.store.models import User
from services.text import natural_sort_key


@pytest.fixture
def catalogue(session: Session) -> None:
    load_offline_snapshot(session)


def test_increment_adds_to_the_matching_entry(session: Session, owner: User, catalogue: None) -> None:
    first = add_card(session, owner.id, "base1-4", quantity=1, printing="holofoil")
    again = add_card(session, owner.id, "base1-4", quantity=2, printing="holofoil")
    assert first.created and not again.created
    assert again.item.id == first.item.id and again.item.quantity == 3
    assert again.message == f"Added 2 copies to your entry #{first.item.id} of Charizard (Base 4): now 3."
    other_condition = add_card(session, owner.id, "base1-4", condition="LP", printing="holofoil")
    assert other_condition.created and other_condition.item.id != first.item.id
    assert count_items(session, owner.id) == 2


def test_separate_refuses_an_identical_entry(session: Session, owner: User, catalogue: None) -> None:
    add_card(session, owner.id, "base1-4", strategy="separate")
    with pytest.raises(Conflict) as refused:
        add_card(session, owner.id, "base1-4", strategy="separate")
    assert refused.value.code == "DUPLICATE_ENTRY"
    assert "--" not in refused.value.message  # every door shows it: no command-line flag in it
    assert count_items(session, owner.id) == 1


def wish(session: Session, owner: User, card_id: str, status: str = "wish") -> int:
    """An entry of a card the member does not hold (a Collectr watchlist row becomes one), as imports make it."""
    return add_item(session, owner.id, kind="card", title="Hitmonchan (Base 7)", pokemontcg_card_id=card_id,
                    grade="NM", grade_code="NM", printing="holofoil", language="en", status=status).id  # fmt: skip


@pytest.mark.parametrize("status", ["wish", "sold", "pass", "demo", "bidding"])
def test_adding_a_card_not_held_makes_an_owned_entry_and_leaves_the_other(
    session: Session, owner: User, catalogue: None, status: str
) -> None:
    """Copies are only ever added to an entry the member holds: a wished (or sold...) card gets its own
    owned entry, so it counts as owned, and the wish stays as it was."""
    other = wish(session, owner, "base1-7", status)
    added = add_card(session, owner.id, "base1-7", printing="holofoil")
    assert added.created and added.item.id != other and added.item.status == "owned" and added.item.quantity == 1
    assert (get_item(session, owner.id, other).quantity, get_item(session, owner.id, other).status) == (1, status)
    assert count_items(session, owner.id, ItemFilter(held_only=True)) == 1
    if status == "wish":
        assert added.wish_id == other and f"also on your wish list (entry #{other})" in added.message
    else:
        assert added.wish_id is None and "wish" not in added.message
    with pytest.raises(Conflict, match=f"#{added.item.id}"):  # the twin refused is the held entry, not the other
        add_card(session, owner.id, "base1-7", printing="holofoil", strategy="separate")


def test_increment_keeps_purchase_details_that_differ_on_an_entry_of_their_own(
    session: Session, owner: User, catalogue: None
) -> None:
    """Nothing typed with new copies is dropped: a price, date or notes the held entry does not already have
    the same go on a new entry (the result says which and why); none, or the same, add to the entry."""
    first = add_card(session, owner.id, "base1-4", printing="holofoil", price=Decimal("10"), currency="USD",
                     acquired=date(2024, 1, 5), notes="fair")  # fmt: skip
    plain = add_card(session, owner.id, "base1-4", printing="holofoil", currency="EUR")  # no price: the currency alone
    assert not plain.created and plain.item.id == first.item.id and plain.item.quantity == 2
    same = add_card(session, owner.id, "base1-4", printing="holofoil", price=Decimal("10.00"), currency="usd",
                    acquired=date(2024, 1, 5))  # fmt: skip
    assert not same.created and same.item.id == first.item.id and same.item.quantity == 3

    cheaper = add_card(session, owner.id, "base1-4", quantity=2, printing="holofoil", price=Decimal("3"),
                       currency="USD", notes="  from Bob  ")  # fmt: skip
    assert cheaper.created and cheaper.kept_apart_from == first.item.id
    assert cheaper.differing == ("price paid", "notes")
    assert (cheaper.item.quantity, cheaper.item.acquired_price, cheaper.item.acquired_currency) == (
        2, Decimal("3"), "USD"
    )  # fmt: skip
    assert cheaper.item.notes == "from Bob" and cheaper.item.acquired_date is None
    assert cheaper.message == (
        f"Added 2 copies of Charizard (Base 4) to your collection as a new entry #{cheaper.item.id}, keeping the "
        f"price paid and notes you gave apart from your entry #{first.item.id}, which does not have the same."
    )
    first_entry = get_item(session, owner.id, first.item.id)
    assert (first_entry.quantity, first_entry.acquired_price, first_entry.notes) == (3, Decimal("10"), "fair")

    # the same details again find the entry that has them; a date alone is a difference too
    again = add_card(session, owner.id, "base1-4", printing="holofoil", price=Decimal("3"), currency="USD",
                     notes="from Bob")  # fmt: skip
    assert not again.created and again.item.id == cheaper.item.id and again.item.quantity == 3
    dated = add_card(session, owner.id, "base1-4", printing="holofoil", acquired=date(2024, 2, 1))
    assert dated.created and dated.differing == ("purchase date",) and dated.item.acquired_date == date(2024, 2, 1)
    assert count_items(session, owner.id) == 3


def test_an_edited_entry_with_the_same_details_still_takes_the_copies(
    session: Session, owner: User, catalogue: None
) -> None:
    """What the Collection editor may leave (notes with a trailing space or newline, a price paid stored without
    its currency) is the same detail as the one given with new copies: they are added, no twin entry."""
    first = add_card(session, owner.id, "base1-4", printing="holofoil")
    update_item(session, owner.id, first.item.id, first.item.version, notes="fair \n", acquired_price=Decimal("10"),
                acquired_currency=None)  # fmt: skip
    again = add_card(session, owner.id, "base1-4", printing="holofoil", price=Decimal("10"), currency="EUR",
                     notes="fair")  # fmt: skip
    assert not again.created and again.item.id == first.item.id and again.item.quantity == 2


def test_a_currency_is_checked_even_without_a_price(session: Session, owner: User, catalogue: None) -> None:
    with pytest.raises(InvalidInput) as refused:
        add_card(session, owner.id, "base1-4", currency="XX")
    assert refused.value.code == "INVALID_CURRENCY" and "'XX'" in refused.value.message
    assert count_items(session, owner.id) == 0


def test_search_text_is_literal_percent_and_underscore_included(session: Session, owner: User) -> None:
    """A user types `%` or `_` meaning those characters, not SQL wildcards (SQLite and PostgreSQL alike)."""
    for title in ("100% cotton sleeve", "Pikachu", "a_b test pressing", "aXb", "back\\slash"):
        add_item(session, owner.id, kind="record", title=title)

    def found(text: str) -> list[str]:
        return [item.title for item in list_items(session, owner.id, ItemFilter(text=text))]

    assert found("%") == found("0%") == ["100% cotton sleeve"]
    assert found("a_b") == ["a_b test pressing"]
    assert found("_") == ["a_b test pressing"]
    assert found("k\\s") == ["back\\slash"]
    assert found("pika") == ["Pikachu"]
    assert [item.title for item in find_items(session, owner.id, "%")] == ["100% cotton sleeve"]


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
