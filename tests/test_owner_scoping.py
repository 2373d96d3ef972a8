"""A second user sees none of the first user's items through any service function."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from services import collection, pricing, sets_view
from services.accounts import connections
from services.accounts.vault import Vault
from services.collection_table import collection_page
from services.demo import load_demo
from services.errors import NotFound
from services.integrations.pokemontcg.catalog import missing_cards
from services.store.models import User
from tests.secret_key import SECRET_KEY

VAULT = Vault(SECRET_KEY.encode())


def test_second_user_sees_nothing_of_the_first(session: Session, owner: User, other_owner: User) -> None:
    load_demo(session, owner.id)
    connections.save_secret(session, VAULT, owner.id, "numista", "ann-secret-numista-key")
    ann_items = collection.list_items(session, owner.id)
    assert ann_items, "the first user needs items for this test to mean anything"
    bob = other_owner.id

    assert collection.list_items(session, bob) == []
    assert collection.count_items(session, bob) == 0
    assert collection.origin_summary(session, bob) == []
    assert collection_page(session, bob, collection.ItemFilter(), page=1, page_size=50, currency="EUR").rows == []
    assert all(sum(counts.values()) == 0 for counts in collection.sync_summary(session, bob).values())
    for item in ann_items[:5]:
        with pytest.raises(NotFound):
            collection.get_item(session, bob, item.id)
        with pytest.raises(NotFound):
            collection.update_item(session, bob, item.id, item.version, notes="mine now")
        with pytest.raises(NotFound):
            collection.delete_item(session, bob, item.id)
    assert pricing.unit_prices(session, bob, [i.id for i in ann_items], "EUR") == {}
    report = pricing.valuation(session, bob).to_json()
    assert (report["totalItems"], report["totalEstimatedValue"], report["byKind"], report["bySet"]) == (0, 0, {}, [])
    assert pricing.value_history(session, bob) == []
    assert sets_view.group_values(session, bob, "coin", "country", "EUR") == []
    assert len(missing_cards(session, bob, "base1")) == 102
    assert not connections.status(session, VAULT, bob, "numista").connected
    assert connections.read_secret(session, VAULT, bob, "numista") is None

    # and the first user's data is untouched by all of the above
    assert len(collection.list_items(session, owner.id)) == len(ann_items)
    ann_rows = collection_page(session, owner.id, collection.ItemFilter(), page=1, page_size=100, currency="EUR").rows
    assert len(ann_rows) == len(ann_items)
    assert sum(row.value == "no price" for row in ann_rows) == 1  # the demo's one unpriced card, never valued 0
    assert connections.read_secret(session, VAULT, owner.id, "numista") == "ann-secret-numista-key"
