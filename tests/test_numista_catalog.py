"""The Numista catalogue adapter against the emulator: cache hits cost no call, expiry refetches, prices become
observations the coin valuation uses (Numista estimate for the coin's grade, else OpenNumismat's price), and
the coin price refresh spends calls only on stale prices and stops a batch on an exhausted quota."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from services.accounts.vault import Vault
from services.collection import add_item
from services.integrations.numista.api import NumistaApi
from services.integrations.numista.catalog import (
    NumistaCatalog,
    match_issue,
    parse_catalogue_number,
    refresh_coin_prices,
)
from services.pricing import Observation, record_observations, unit_prices, valuation
from services.store.models import Item, NumistaType, PriceObservation, User, utcnow
from services.store.models_numista import NumistaIssue
from tests.emulators.numista import NumistaEmulator
from tests.numista_support import *  # noqa: F403  (fixtures: api, connected, vault)
from tests.numista_support import numista_settings


def _clock(offset: timedelta) -> Callable[[], datetime]:
    return lambda: utcnow() + offset


def test_cache_hits_spend_no_calls_even_from_another_api_object(
    api: NumistaApi, numista_emulator: NumistaEmulator, engine: Engine, vault: Vault, connected: User
) -> None:
    catalog = NumistaCatalog(api)
    first = [
        catalog.search_types("victoria").from_cache,
        catalog.get_type(420)["title"],
        len(catalog.get_issues(420)),
        catalog.get_prices(420, 4201, "EUR").from_cache,
    ]
    assert first == [False, "5 Cents - Victoria", 3, False]
    assert api.calls_made == 4 == numista_emulator.quota_used()
    with NumistaApi(numista_settings(numista_emulator.base_url), engine, vault, connected.id) as other:
        again = NumistaCatalog(other)
        second = [
            again.search_types("victoria").from_cache,
            again.get_type(420)["title"],
            len(again.get_issues(420)),
            again.get_prices(420, 4201, "EUR").from_cache,
        ]
        assert second == [True, "5 Cents - Victoria", 3, True]
        assert other.calls_made == 0
    assert numista_emulator.quota_used() == 4 and len(numista_emulator.requests) == 4


def test_expired_entries_are_fetched_again_and_each_ttl_is_its_own(
    api: NumistaApi, numista_emulator: NumistaEmulator
) -> None:
    NumistaCatalog(api).get_type(420)
    NumistaCatalog(api).get_prices(420, 4201, "EUR")
    in_four_days = NumistaCatalog(api, clock=_clock(timedelta(days=4)))
    assert in_four_days.get_prices(420, 4201, "EUR").from_cache is False  # prices: 3 days
    in_four_days.get_type(420)  # types: 30 days, still fresh
    assert api.calls_made == 3
    NumistaCatalog(api, clock=_clock(timedelta(days=31))).get_type(420)
    assert api.calls_made == 4
    assert len(numista_emulator.requests_to("/v3/types/420")) == 2


def test_type_and_issues_land_in_their_tables(api: NumistaApi, engine: Engine) -> None:
    catalog = NumistaCatalog(api)
    catalog.get_type(11331)
    catalog.get_issues(11331)
    with Session(engine) as session:
        row = session.get(NumistaType, 11331)
        assert row is not None and (row.title, row.issuer, row.min_year) == ("2 Sapèque", "French Indochina", 1887)
        assert row.expires_at is not None
        issues = session.scalars(select(NumistaIssue).where(NumistaIssue.type_id == 11331)).all()
        assert {(i.id, i.year, i.mint_letter) for i in issues} == {(63444, 1887, "A"), (63445, 1892, "A")}


def test_prices_are_observations_in_the_requested_currency_and_empty_answers_are_cached(
    api: NumistaApi, numista_emulator: NumistaEmulator, engine: Engine
) -> None:
    catalog = NumistaCatalog(api)
    quote = catalog.get_prices(420, 4201, "usd")
    assert quote.currency == "USD" and quote.prices["vf"] == Decimal("70.20")  # 65 EUR at the emulator's 1.08
    assert numista_emulator.last_request("/v3/types/420/issues/4201/prices").param("currency") == "USD"
    with Session(engine) as session:
        rows = session.execute(
            select(PriceObservation.variant, PriceObservation.value, PriceObservation.currency).where(
                PriceObservation.ref_kind == "numista_issue",
                PriceObservation.ref_id == "4201",
                PriceObservation.source == "numista",
                PriceObservation.metric == "estimate",
            )
        ).all()
    assert {variant for variant, _, _ in rows} == {"g", "vg", "f", "vf", "xf", "au", "unc"}
    assert {currency for _, _, currency in rows} == {"USD"}
    assert catalog.get_prices(420, 4203, "EUR").prices == {}  # "no estimate" is an answer
    assert catalog.get_prices(420, 4203, "EUR").from_cache is True
    assert len(numista_emulator.requests_to("/v3/types/420/issues/4203/prices")) == 1


def test_valuation_uses_numista_estimate_for_the_grade_else_the_opennumismat_price(
    api: NumistaApi, session: Session, connected: User
) -> None:
    fine = add_item(session, connected.id, kind="coin", title="5 Cents 1858", grade="VF", grade_code="vf",
                    numista_type_id=420, numista_issue_id=4201)  # fmt: skip
    choice = add_item(session, connected.id, kind="coin", title="5 Cents 1870", grade="AU", grade_code="au",
                      numista_type_id=420, numista_issue_id=4202)  # fmt: skip
    record_observations(session, [
        Observation("item", str(item.id), "opennumismat", item.grade_code, "catalogue", "EUR", Decimal("9.99"))
        for item in (fine, choice)
    ])  # fmt: skip
    session.commit()
    assert unit_prices(session, connected.id, [fine.id, choice.id], "EUR") == {
        fine.id: Decimal("9.99"), choice.id: Decimal("9.99")
    }
    catalog = NumistaCatalog(api)
    catalog.get_prices(420, 4201, "EUR")
    catalog.get_prices(420, 4202, "EUR")  # f, vf, xf only: no estimate for AU
    session.expire_all()
    prices = unit_prices(session, connected.id, [fine.id, choice.id], "EUR")
    assert prices == {fine.id: Decimal("65.00"), choice.id: Decimal("9.99")}
    assert valuation(session, connected.id, "EUR").to_json()["byKind"]["coin"]["estimatedValue"] == pytest.approx(74.99)


def test_search_resolves_issuer_names_and_catalogue_numbers(
    api: NumistaApi, numista_emulator: NumistaEmulator
) -> None:
    catalog = NumistaCatalog(api)
    by_issuer = catalog.search_types("5 cents", issuer="Canada", year=1870)
    assert [t["id"] for t in by_issuer.types] == [420]
    request = numista_emulator.last_request("/v3/types")
    assert (request.param("issuer"), request.param("year"), request.param("q")) == ("canada", "1870", "5 cents")
    by_number = catalog.search_types(catalogue_number="KM# 2")
    assert [t["id"] for t in by_number.types] == [420]
    request = numista_emulator.last_request("/v3/types")
    assert (request.param("catalogue"), request.param("number")) == ("3", "2")
    unknown = catalog.search_types("sapèque", issuer="Atlantis")  # an unknown issuer joins the text query
    assert unknown.count == 0 and numista_emulator.last_request("/v3/types").param("q") == "sapèque Atlantis"
    catalog.search_types("5 cents", issuer="canada", year=1858)
    assert len(numista_emulator.requests_to("/v3/issuers")) == 1
    assert len(numista_emulator.requests_to("/v3/catalogues")) == 1


def test_match_issue_refuses_to_guess() -> None:
    issues = [
        {"id": 1, "is_dated": True, "year": 2002, "gregorian_year": 2002, "mint_letter": "A"},
        {"id": 2, "is_dated": True, "year": 2002, "gregorian_year": 2002, "mint_letter": "D"},
        {"id": 3, "is_dated": True, "year": 2003, "gregorian_year": 2003, "mint_letter": "A"},
        {"id": 4, "is_dated": False, "min_year": 1863, "max_year": 1916},
    ]
    assert match_issue(issues, 2003)["id"] == 3
    assert match_issue(issues, 2002) is None  # two mints that year
    assert match_issue(issues, 2002, "d")["id"] == 2
    assert match_issue(issues, 1900)["id"] == 4  # the undated issue spans it
    assert match_issue(issues, 1700) is None and match_issue(issues, None) is None
    assert match_issue(issues[:1], None)["id"] == 1
    assert parse_catalogue_number("KM# 2") == ("KM", "2") and parse_catalogue_number("Schön 12a") == ("Schön", "12a")
    assert parse_catalogue_number("nonsense") is None


def _coins(session: Session, owner_id: int) -> dict[str, Item]:
    specs = {
        "a": {"numista_type_id": 420, "numista_issue_id": 4201, "grade_code": "vf"},
        "b": {"numista_type_id": 420, "numista_issue_id": 4201, "grade_code": "xf"},  # same issue: one call
        "c": {"numista_type_id": 11331, "year": 1887, "grade_code": "f"},  # issue found from the year
        "d": {"numista_type_id": 420, "numista_issue_id": 4203},  # Numista has no estimate
        "e": {"country": "Peru"},  # not linked
        "f": {"numista_type_id": 420, "numista_issue_id": 4202, "status": "wish"},  # not held: not priced
    }
    return {key: add_item(session, owner_id, kind="coin", title=f"coin {key}", **fields)
            for key, fields in specs.items()}  # fmt: skip


def test_refresh_spends_calls_only_on_stale_prices_and_links_issues_by_year(
    api: NumistaApi, numista_emulator: NumistaEmulator, session: Session, connected: User
) -> None:
    coins = _coins(session, connected.id)
    session.commit()
    report = refresh_coin_prices(NumistaCatalog(api), "EUR")
    assert sorted(r["issueId"] for r in report.refreshed) == [4201, 4203, 63444]
    assert next(r for r in report.refreshed if r["issueId"] == 4201)["items"] == [coins["a"].id, coins["b"].id]
    assert report.issues_linked == [{"item": coins["c"].id, "typeId": 11331, "issueId": 63444}]
    assert (report.no_estimate, report.unlinked, report.fresh, report.stopped) == (1, 1, 0, None)
    assert report.calls == 4 == numista_emulator.quota_used()  # 3 price calls + the issue list of N# 11331
    assert report.quota is not None and report.quota.used == 4
    session.expire_all()
    assert session.get(Item, coins["c"].id).numista_issue_id == 63444
    assert unit_prices(session, connected.id, [coins["c"].id], "EUR") == {coins["c"].id: Decimal("8.00")}

    again = refresh_coin_prices(NumistaCatalog(api), "EUR")
    assert (again.calls, again.fresh, again.refreshed) == (0, 3, [])
    later = refresh_coin_prices(NumistaCatalog(api, clock=_clock(timedelta(days=4))), "EUR")
    assert later.calls == 3 and later.fresh == 0


def test_refresh_stops_the_batch_when_the_quota_is_exhausted(
    api: NumistaApi, numista_emulator: NumistaEmulator, session: Session, connected: User
) -> None:
    _coins(session, connected.id)
    session.commit()
    numista_emulator.faults.exhaust_quota()
    report = refresh_coin_prices(NumistaCatalog(api), "EUR")
    assert report.stopped is not None and "quota" in report.stopped.lower()
    assert report.refreshed == [] and report.quota is not None and report.quota.exhausted
    assert len(numista_emulator.requests) == 1  # the first refusal stops everything


def test_refresh_limit_caps_the_calls(api: NumistaApi, session: Session, connected: User) -> None:
    _coins(session, connected.id)
    session.commit()
    report = refresh_coin_prices(NumistaCatalog(api), "EUR", limit=2)
    assert report.calls == 2 and report.stopped is not None and "--limit 2" in report.stopped
