"""Find on Numista and link a coin: the suggested search, the pick, the issue chosen from the coin's year only
when exactly one fits, owner scoping and stale edits."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from services.collection import add_item, get_item
from services.errors import InvalidInput, NotFound, StaleEdit
from services.importers.opennumismat_import import import_opennumismat
from services.integrations.numista.api import NumistaApi
from services.integrations.numista.catalog import NumistaCatalog
from services.integrations.numista.links import (
    LinkQuery,
    clear_numista_link,
    find_numista_types,
    set_numista_link,
    suggested_query,
    unlinked_coins,
)
from services.store.models import User
from tests.emulators.numista import NumistaEmulator
from tests.fixture_files import opennumismat_file
from tests.numista_support import *  # noqa: F403  (fixtures: api, connected, vault)

EDGE = opennumismat_file()


def test_imported_coin_is_found_by_its_suggested_search_and_linked_with_its_issue(
    api: NumistaApi, numista_emulator: NumistaEmulator, session: Session, connected: User
) -> None:
    import_opennumismat(session, connected.id, EDGE)
    session.commit()
    unlinked = unlinked_coins(session, connected.id)
    assert all(i.status not in ("demo", "wish", "sold") for i in unlinked)  # only coins actually held
    coin_sm = next(i for i in unlinked if i.country == "San Marino")  # row 21: "2 euro 2004", XF, owned
    assert suggested_query(coin_sm) == LinkQuery(q="2 euro", issuer="San Marino", year=2004, catalogue_number=None)
    catalog = NumistaCatalog(api)

    found = find_numista_types(catalog, coin_sm.id)
    assert [t["id"] for t in found.types] == [70104]
    assert api.calls_made == 2  # the issuer list (cached for a month) + the search
    assert find_numista_types(catalog, coin_sm.id).from_cache and api.calls_made == 2

    linked = set_numista_link(catalog, coin_sm.id, 70104)
    assert (linked.type_id, linked.issue_id, linked.issue_matched) == (70104, 701041, True)
    assert api.calls_made == 3  # the issue list
    session.expire_all()
    coin = get_item(session, connected.id, coin_sm.id)
    assert (coin.numista_type_id, coin.numista_issue_id, coin.version) == (70104, 701041, linked.version)
    assert coin_sm.id not in {i.id for i in unlinked_coins(session, connected.id)}


def test_issue_is_left_open_when_several_fit_unless_the_mint_mark_decides(
    api: NumistaApi, session: Session, connected: User
) -> None:
    plain = add_item(session, connected.id, kind="coin", title="1 Euro 2002", year=2002)
    marked = add_item(session, connected.id, kind="coin", title="1 Euro 2002 D", year=2002, details={"mintmark": "D"})
    session.commit()
    catalog = NumistaCatalog(api)
    assert set_numista_link(catalog, plain.id, 70001).issue_id is None  # five mints struck 2002
    assert set_numista_link(catalog, marked.id, 70001).issue_id == 700012
    assert api.calls_made == 1  # the issues of N# 70001, fetched once
    chosen = set_numista_link(catalog, plain.id, 70001, issue_id=700015)
    assert (chosen.issue_id, chosen.issue_matched) == (700015, False)


def test_bad_links_are_refused(api: NumistaApi, session: Session, connected: User, other_owner: User) -> None:
    coin = add_item(session, connected.id, kind="coin", title="5 Cents", year=1870)
    theirs = add_item(session, other_owner.id, kind="coin", title="5 Cents", year=1858)
    session.commit()
    catalog = NumistaCatalog(api)
    with pytest.raises(InvalidInput) as unknown:
        set_numista_link(catalog, coin.id, 999999)
    assert unknown.value.code == "UNKNOWN_NUMISTA_TYPE"
    with pytest.raises(InvalidInput) as wrong_issue:
        set_numista_link(catalog, coin.id, 420, issue_id=63444)
    assert wrong_issue.value.code == "UNKNOWN_NUMISTA_ISSUE"
    with pytest.raises(NotFound):
        set_numista_link(catalog, theirs.id, 420)
    with pytest.raises(NotFound):
        find_numista_types(catalog, theirs.id)
    version = get_item(session, connected.id, coin.id).version
    with pytest.raises(StaleEdit):
        set_numista_link(catalog, coin.id, 420, expected_version=version + 1)
    session.expire_all()
    assert get_item(session, connected.id, coin.id).numista_type_id is None


def test_empty_search_and_unlink(api: NumistaApi, session: Session, connected: User) -> None:
    coin = add_item(session, connected.id, kind="coin", title="5 Cents", year=1870)
    session.commit()
    catalog = NumistaCatalog(api)
    with pytest.raises(InvalidInput):
        find_numista_types(catalog, coin.id, LinkQuery())
    linked = set_numista_link(catalog, coin.id, 420)
    assert linked.issue_id == 4202
    session.expire_all()
    cleared = clear_numista_link(session, connected.id, coin.id, linked.version)
    assert (cleared.numista_type_id, cleared.numista_issue_id) == (None, None)
