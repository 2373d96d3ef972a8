"""Bulk linking to Numista: one search per issuer + face value, calls counted before spending, candidates scored
from the coin's fields, nothing linked without a choice, stale edits refused, and the linked coins pushable."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from services.collection import add_item, get_item, update_item
from services.demo import load_demo
from services.importers.opennumismat_import import import_opennumismat
from services.integrations.numista.api import NumistaApi
from services.integrations.numista.bulk_link import (
    DEFAULT_THRESHOLD,
    coin_to_link,
    coins_to_link,
    link_choices,
    match_candidates,
    parse_face_value,
    plan_bulk_link,
    run_searches,
)
from services.integrations.numista.catalog import NumistaCatalog
from services.integrations.numista.links import unlinked_coins
from services.integrations.numista.pusher import export_options, plan_export, plan_summary
from services.store.models import User
from tests.emulators.numista import NumistaEmulator
from tests.fixture_files import opennumismat_file
from tests.numista_support import *  # noqa: F403  (fixtures: api, connected, vault)


def test_face_values_are_read_from_titles_and_series() -> None:
    assert parse_face_value("2 euro 2004") == (Decimal(2), "euro")
    assert parse_face_value("50 Euro Cent (1st map)") == (Decimal(50), "cent")
    assert parse_face_value("5 Cents - Victoria") == (Decimal(5), "cent")
    assert parse_face_value("Stockholm") is None


def test_demo_coins_are_bulk_linked_with_one_search_per_issuer_and_face_value(
    api: NumistaApi, numista_emulator: NumistaEmulator, session: Session, connected: User
) -> None:
    load_demo(session, connected.id)
    session.commit()
    catalog = NumistaCatalog(api)
    coins = coins_to_link(catalog)
    assert len(coins) == 21
    plan = plan_bulk_link(catalog, coins)
    # Germany: 1, 2, 5, 10, 20, 50 cent, 1 and 2 euro; six other countries' 2 euro
    assert len(plan.searches) == 14 and plan.cached_searches == 0
    assert plan.calls_needed == 15  # + the issuer list, once a month
    assert api.calls_made == 0  # counting spends nothing
    before_match = match_candidates(catalog, coins)
    assert not any(match.searched or match.candidates for match in before_match)

    run = run_searches(catalog, plan)
    assert (run.searched, run.calls, run.stopped, run.failed) == (14, 15, None, [])
    assert plan_bulk_link(catalog, coins).calls_needed == 0  # cached: a second look is free
    assert run_searches(catalog, plan).calls == 0

    matches = {match.coin.item_id: match for match in match_candidates(catalog, coins)}
    assert api.calls_made == 15
    by_title = {}
    for match in matches.values():
        assert match.searched and match.candidates, match.coin
        by_title.setdefault((match.coin.title, match.coin.country), match)
    assert by_title[("5 cent DE", "Germany")].best.type_id == 70004  # not the 50 cent coin
    assert by_title[("50 cent DE", "Germany")].best.type_id == 70003
    assert by_title[("2 euro 2004", "Greece")].best.type_id == 70101
    assert by_title[("10 cent DE (new map)", "Germany")].best.type_id == 70009  # its title words decide
    accepted = {i: m.accepted_at(DEFAULT_THRESHOLD) for i, m in matches.items()}
    assert accepted[by_title[("2 euro 2004", "Vatican City")].coin.item_id].type_id == 70105
    assert sum(1 for candidate in accepted.values() if candidate) >= 12

    choices = {i: (m.best.type_id, m.coin.version) for i, m in matches.items()}
    stale_id = by_title[("1 cent DE", "Germany")].coin.item_id
    update_item(session, connected.id, stale_id, get_item(session, connected.id, stale_id).version, notes="edited")
    session.commit()
    outcome = link_choices(catalog, choices)
    assert outcome.stopped is None
    assert [item_id for item_id, _ in outcome.failed] == [stale_id]  # edited since it was shown: refused
    assert len(outcome.linked) == 20
    assert outcome.calls == len({type_id for type_id, _ in choices.values()})  # one issue list per type
    session.expire_all()
    assert [i.id for i in unlinked_coins(session, connected.id)] == [stale_id]
    greek = get_item(session, connected.id, by_title[("2 euro 2004", "Greece")].coin.item_id)
    assert (greek.numista_type_id, greek.numista_issue_id) == (70101, 701011)
    linked_ids = [result.item_id for result in outcome.linked]
    plan = plan_export(session, connected.id, linked_ids, export_options(session, connected.id))
    assert plan_summary(plan) == {"create": 20, "update": 0, "copy": 0, "skip": 0}  # every linked coin pushable


def test_imported_coins_keep_their_value_and_unit_for_the_search(
    api: NumistaApi, session: Session, connected: User
) -> None:
    import_opennumismat(session, connected.id, opennumismat_file())
    session.commit()
    coins = {coin.item_id: coin for coin in coins_to_link(NumistaCatalog(api))}
    assert coins and all(coin.face_value is not None and coin.unit in ("cent", "euro") for coin in coins.values())
    assert {coin.search.q for coin in coins.values()} <= {"1 cent", "2 cent", "5 cent", "10 cent", "20 cent",
                                                          "50 cent", "1 euro", "2 euro"}  # fmt: skip


def test_nothing_is_linked_without_a_choice_and_a_quota_error_stops_the_pass(
    api: NumistaApi, numista_emulator: NumistaEmulator, session: Session, connected: User
) -> None:
    coin = add_item(session, connected.id, kind="coin", title="2 euro 2004", country="Greece", year=2004)
    other = add_item(session, connected.id, kind="coin", title="2 euro 2004", country="Italy", year=2004)
    session.commit()
    catalog = NumistaCatalog(api)
    numista_emulator.faults.exhaust_quota()
    run = run_searches(catalog, plan_bulk_link(catalog))
    assert run.stopped and "quota" in run.stopped and run.searched == 0
    assert link_choices(catalog, {}).linked == []
    session.expire_all()
    assert get_item(session, connected.id, coin.id).numista_type_id is None
    assert get_item(session, connected.id, other.id).numista_type_id is None
    assert coin_to_link(get_item(session, connected.id, coin.id)).search.q == "2 euro"


@pytest.mark.parametrize("details, expected", [({"value": "2", "unit": "Euro"}, "2 euro"), ({}, "sol")])
def test_the_search_falls_back_to_the_title(session: Session, owner: User, details: dict, expected: str) -> None:
    title = "2 euro 2004" if details else "Sol 1864"
    item = add_item(session, owner.id, kind="coin", title=title, country="Peru", details=details)
    assert coin_to_link(item).search.q.startswith(expected)
