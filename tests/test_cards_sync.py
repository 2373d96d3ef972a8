"""Catalogue sync against the pokemontcg.io emulator over loopback HTTP: paging, resuming, freshness, failures
and the price blocks recorded as dated observations."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from services.collection import add_card
from services.config import load_settings
from services.errors import NotFound
from services.http import RetryPolicy, ServiceClient, pokemontcg_client
from services.integrations.pokemontcg.catalog import load_offline_snapshot
from services.integrations.pokemontcg.search import search_catalogue
from services.integrations.pokemontcg.sync import SyncProgress, catalogue_status, owned_set_ids, sync_pokemon
from services.pricing import valuation
from services.store.models import LatestPrice, PokemonCard, PokemonSet, PriceObservation, User
from services.store.models_cards import CatalogSyncState
from tests.emulators.fixtures import pokemontcg_emulator  # noqa: F401
from tests.emulators.pokemontcg import DEMO_API_KEY, PokemonTcgEmulator

SETS = ["base5", "sv1", "svp"]


def engine_of(session: Session) -> Engine:
    """The sync is a long job with units of work of its own: end the test's transaction, hand it the engine."""
    session.commit()
    session.expire_all()  # what the test reads afterwards comes from the database, not from before the sync
    bind = session.get_bind()
    assert isinstance(bind, Engine)
    return bind


def client_for(base_url: str) -> ServiceClient:
    """A real client of our HTTP layer, without waits: one retry, no sleeping, no shared limiter."""
    settings = load_settings({"POKEMONTCG_API_URL": base_url})
    return pokemontcg_client(
        settings, api_key=DEMO_API_KEY, limiter=False, sleep=lambda _s: None, retry=RetryPolicy(max_retries=1)
    )


@pytest.fixture
def client(pokemontcg_emulator: PokemonTcgEmulator) -> ServiceClient:  # noqa: F811
    return client_for(pokemontcg_emulator.base_url)


def card_requests(emulator: PokemonTcgEmulator, set_id: str | None = None) -> list[tuple[str, str]]:
    requests = emulator.requests_to("/v2/cards")
    return [
        (r.param("q") or "", r.param("page") or "")
        for r in requests
        if set_id is None or r.param("q") == f"set.id:{set_id}"
    ]


def test_sync_pages_through_a_set_larger_than_a_page(
    session: Session, client: ServiceClient, pokemontcg_emulator: PokemonTcgEmulator  # noqa: F811
) -> None:
    seen: list[SyncProgress] = []
    report = sync_pokemon(engine_of(session), client, set_ids=SETS, progress=seen.append)
    assert report.complete and report.synced_sets == SETS
    assert card_requests(pokemontcg_emulator, "sv1") == [("set.id:sv1", "1"), ("set.id:sv1", "2")]
    first = pokemontcg_emulator.requests_to("/v2/cards")[0]
    assert first.param("pageSize") == "250" and "tcgplayer" in (first.param("select") or "")
    counts = dict(session.execute(select(PokemonCard.set_id, func.count()).group_by(PokemonCard.set_id)).all())
    assert counts == {"base5": 83, "sv1": 258, "svp": 165}
    assert report.cards == 83 + 258 + 165 and report.requests == 1 + 1 + 2 + 1  # set list + 4 card pages
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and seen[-1].phase == "done"
    card = session.get(PokemonCard, "sv1-1")
    assert card is not None and card.image_small and card.number_sort and card.rarity
    assert session.get(PokemonSet, "sv1").printed_total == 198  # type: ignore[union-attr]


def test_an_interrupted_sync_continues_at_the_page_where_it_stopped(
    session: Session, client: ServiceClient, pokemontcg_emulator: PokemonTcgEmulator  # noqa: F811
) -> None:
    def break_sv1_page_2(progress: SyncProgress) -> None:
        if progress.set_id == "sv1" and progress.page == 1:  # page 1 stored, page 2 is next
            pokemontcg_emulator.faults.fail_next(2, status=503, path="/v2/cards")

    first = sync_pokemon(engine_of(session), client, set_ids=SETS, progress=break_sv1_page_2)
    assert first.stopped and not first.complete
    assert first.synced_sets == ["base5"]
    assert first.errors[0]["set"] == "sv1" and "unavailable" in first.errors[0]["reason"]
    state = session.get(CatalogSyncState, ("pokemontcg", "set:sv1"))
    assert state is not None and (state.status, state.next_page, state.total_count) == ("failed", 2, 258)
    assert session.scalar(select(func.count()).where(PokemonCard.set_id == "sv1")) == 250  # page 1 was kept
    assert session.get(PokemonSet, "svp") is not None and not card_requests(pokemontcg_emulator, "svp")
    status = catalogue_status(session)
    assert status.unfinished_sets == ["sv1"] and "did not finish" in status.banner()[1]  # type: ignore[index]

    pokemontcg_emulator.faults.clear()
    pokemontcg_emulator.clear_requests()
    second = sync_pokemon(engine_of(session), client, set_ids=SETS)
    assert second.complete and second.resumed_sets == ["sv1"] and second.fresh_sets == ["base5"]
    assert card_requests(pokemontcg_emulator) == [("set.id:sv1", "2"), ("set.id:svp", "1")]
    assert not pokemontcg_emulator.requests_to("/v2/sets")  # the set list is still fresh
    assert session.scalar(select(func.count()).where(PokemonCard.set_id == "sv1")) == 258
    assert catalogue_status(session).banner() is None


def test_fresh_data_costs_no_call_and_stale_data_is_served_with_a_banner(
    session: Session, client: ServiceClient, pokemontcg_emulator: PokemonTcgEmulator  # noqa: F811
) -> None:
    sync_pokemon(engine_of(session), client, set_ids=["base1"])
    pokemontcg_emulator.clear_requests()
    again = sync_pokemon(engine_of(session), client, set_ids=["base1"])
    assert again.requests == 0 and again.fresh_sets == ["base1"] and not pokemontcg_emulator.requests

    later = datetime.now(UTC) + timedelta(days=2)
    status = catalogue_status(session, now=later)
    assert status.stale and status.stale_sets == ["base1"]
    level, text = status.banner()  # type: ignore[misc]
    assert level == "warning" and "out of date" in text
    assert search_catalogue(session, "charizard").hits[0].id == "base1-4"  # stale data is still served

    refreshed = sync_pokemon(engine_of(session), client, set_ids=["base1"], now=later)
    assert refreshed.synced_sets == ["base1"] and card_requests(pokemontcg_emulator) == [("set.id:base1", "1")]
    forced = sync_pokemon(engine_of(session), client, set_ids=["base1"], force=True)
    assert forced.synced_sets == ["base1"] and forced.requests == 2  # set list + the page


def test_api_down_is_reported_not_raised(
    session: Session, client: ServiceClient, pokemontcg_emulator: PokemonTcgEmulator  # noqa: F811
) -> None:
    load_offline_snapshot(session)  # what a user has before any sync
    assert catalogue_status(session).banner()[0] == "info"  # type: ignore[index]
    pokemontcg_emulator.faults.fail_next(2, status=503)
    report = sync_pokemon(engine_of(session), client, set_ids=["base1"])
    assert report.stopped and report.errors == [
        {"set": "sets", "reason": report.errors[0]["reason"]}
    ] and "unavailable (HTTP 503)" in report.errors[0]["reason"]
    assert not card_requests(pokemontcg_emulator)
    assert search_catalogue(session, "charizard").total > 0  # the offline catalogue keeps working

    with socket.socket() as sock:  # a port nothing listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/v2"
    report = sync_pokemon(engine_of(session), client_for(closed), set_ids=["base1"])
    assert report.stopped and "could not be reached" in report.errors[0]["reason"]
    assert report.to_json()["complete"] is False
    status = catalogue_status(session)
    assert status.offline_only and "could not be reached" in (status.last_error or "")


def test_unknown_set_is_refused_before_any_card_request(
    session: Session, client: ServiceClient, pokemontcg_emulator: PokemonTcgEmulator  # noqa: F811
) -> None:
    with pytest.raises(NotFound, match="no set nope"):
        sync_pokemon(engine_of(session), client, set_ids=["nope"])
    assert not card_requests(pokemontcg_emulator)


def test_price_blocks_become_dated_observations_once(
    session: Session, client: ServiceClient, pokemontcg_emulator: PokemonTcgEmulator  # noqa: F811
) -> None:
    pokemontcg_emulator.set_card_prices(
        "base1-4",
        tcgplayer={"url": "x", "updatedAt": "2025/11/10", "prices": {
            "holofoil": {"low": 200.0, "mid": 310.5, "high": 900, "market": 299.99, "directLow": None},
            "1stEditionHolofoil": {"market": 5000},
        }},
        cardmarket={"url": "y", "updatedAt": "2025/11/09", "prices": {
            "trendPrice": 250.0, "averageSellPrice": 240, "lowPrice": 150, "avg1": 245, "avg7": 246.5, "avg30": 0,
            "germanProLow": 0.0, "suggestedPrice": 0.0, "reverseHoloTrend": 0.0, "reverseHoloAvg7": None,
        }},
    )  # fmt: skip
    pokemontcg_emulator.set_card_prices("base1-2", tcgplayer=None, cardmarket=None)
    sync_pokemon(engine_of(session), client, set_ids=["base1"])
    rows = session.scalars(select(LatestPrice).where(LatestPrice.ref_id == "base1-4")).all()
    got = {(r.source, r.variant, r.metric, r.currency, r.value, r.observed_at.date().isoformat()) for r in rows}
    assert got == {
        ("tcgplayer", "holofoil", "low", "USD", Decimal("200.00"), "2025-11-10"),
        ("tcgplayer", "holofoil", "mid", "USD", Decimal("310.50"), "2025-11-10"),
        ("tcgplayer", "holofoil", "high", "USD", Decimal("900.00"), "2025-11-10"),
        ("tcgplayer", "holofoil", "market", "USD", Decimal("299.99"), "2025-11-10"),
        ("tcgplayer", "1stEditionHolofoil", "market", "USD", Decimal("5000.00"), "2025-11-10"),
        ("cardmarket", "", "trend", "EUR", Decimal("250.00"), "2025-11-09"),
        ("cardmarket", "", "averageSell", "EUR", Decimal("240.00"), "2025-11-09"),
        ("cardmarket", "", "low", "EUR", Decimal("150.00"), "2025-11-09"),
        ("cardmarket", "", "avg1", "EUR", Decimal("245.00"), "2025-11-09"),
        ("cardmarket", "", "avg7", "EUR", Decimal("246.50"), "2025-11-09"),
    }  # zeros and nulls are "no price", never stored
    assert not session.scalars(select(LatestPrice).where(LatestPrice.ref_id == "base1-2")).all()

    history = select(func.count()).select_from(PriceObservation)
    before = session.scalar(history)
    again = sync_pokemon(engine_of(session), client, set_ids=["base1"], force=True)
    assert again.prices == 0  # same dates: nothing new
    assert session.scalar(history) == before
    pokemontcg_emulator.set_card_prices(
        "base1-4", tcgplayer={"updatedAt": "2025/11/17", "prices": {"holofoil": {"market": 320}}}
    )
    assert sync_pokemon(engine_of(session), client, set_ids=["base1"], force=True).prices == 1
    market = session.scalars(
        select(PriceObservation.value)
        .where(PriceObservation.ref_id == "base1-4", PriceObservation.metric == "market",
               PriceObservation.variant == "holofoil")
        .order_by(PriceObservation.observed_at)
    ).all()  # fmt: skip
    assert market == [Decimal("299.99"), Decimal("320.00")]


def test_full_sync_of_every_set_then_nothing_to_do(
    session: Session, client: ServiceClient, pokemontcg_emulator: PokemonTcgEmulator  # noqa: F811
) -> None:
    report = sync_pokemon(engine_of(session), client)
    sets = len(pokemontcg_emulator.sets)
    assert report.complete and len(report.synced_sets) == sets and report.sets == sets
    assert report.cards == len(pokemontcg_emulator.cards)
    assert catalogue_status(session).synced_sets == sets
    assert sync_pokemon(engine_of(session), client).requests == 0


def test_refreshing_the_prices_of_the_sets_a_user_owns(
    session: Session, owner: User, client: ServiceClient, pokemontcg_emulator: PokemonTcgEmulator  # noqa: F811
) -> None:
    load_offline_snapshot(session)
    add_card(session, owner.id, "svp-1", printing="holofoil")
    add_card(session, owner.id, "base5-4", printing="holofoil")
    assert valuation(session, owner.id).to_json()["itemsWithoutPrice"] == 2  # the offline catalogue has no prices
    pokemontcg_emulator.set_card_prices("base5-4", tcgplayer={"prices": {"holofoil": {"market": 10.0}}})
    pokemontcg_emulator.set_card_prices("svp-1", tcgplayer={"prices": {"holofoil": {"market": 5.0}}})
    assert owned_set_ids(session, owner.id) == ["base5", "svp"]
    report = sync_pokemon(engine_of(session), client, set_ids=owned_set_ids(session, owner.id))
    assert report.synced_sets == ["base5", "svp"] and card_requests(pokemontcg_emulator, "sv1") == []
    value = valuation(session, owner.id, "USD").to_json()
    assert value["itemsWithoutPrice"] == 0 and value["totalEstimatedValue"] == 15.0
