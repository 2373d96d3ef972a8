"""GET /api/status/external's pokemontcg entry (services.api.status) on SQLite and PostgreSQL: an empty catalogue,
the shipped offline snapshot (never reported as a sync), a live sync, and a failed first sync."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.api.framework import Call
from services.api.status import external_status
from services.api.tokens import TokenOwner
from services.demo import DEMO_PATH, load_demo
from services.integrations.discogs.catalog import cache_releases
from services.integrations.pokemontcg.catalog import ensure_offline_catalogue
from services.store.models import DiscogsRelease, PokemonSet, User, utcnow
from services.store.models_cards import CatalogSyncState


def service_status(session: Session, owner: User, service: str) -> dict[str, Any]:
    member = TokenOwner(token_id=1, user_id=owner.id, username=owner.username, currency="EUR")
    status = external_status(Call(session, member, {}, None, None, {}, None))  # type: ignore[arg-type]
    return next(found for found in status.model_dump(mode="json")["data"] if found["service"] == service)


def pokemontcg(session: Session, owner: User) -> dict[str, Any]:
    return service_status(session, owner, "pokemontcg")


def test_discogs_facts_from_the_demo_or_a_csv_are_no_success_of_discogs(session: Session, owner: User) -> None:
    load_demo(session, owner.id)
    cache_releases(session, [{"release_id": 99_000_001, "title": "From a CSV", "artist": "Someone"}], only_new=True)
    found = service_status(session, owner, "discogs")
    assert (found["status"], found["lastSuccessAt"], found["source"]) == ("not_connected", None, None)
    cache_releases(session, [{"release_id": 99_000_002, "title": "Read from Discogs", "artist": "Someone"}])
    found = service_status(session, owner, "discogs")
    assert found["lastSuccessAt"] is not None and found["source"] == "live" and found["cacheExpiresAt"] is not None


def test_an_empty_catalogue_was_never_synced(session: Session, owner: User) -> None:
    found = pokemontcg(session, owner)
    assert (found["status"], found["source"], found["snapshotDate"], found["lastSuccessAt"]) == (
        "never", None, None, None
    )  # fmt: skip


def test_the_offline_snapshot_is_reported_with_its_date_and_no_sync(session: Session, owner: User) -> None:
    assert ensure_offline_catalogue(session)
    newest_set = session.scalar(select(func.max(PokemonSet.release_date)))
    found = pokemontcg(session, owner)
    assert found["status"] == "offline" and found["source"] == "offline snapshot"
    assert newest_set is not None and found["snapshotDate"] == newest_set.isoformat()
    assert found["lastSuccessAt"] is None and found["cacheExpiresAt"] is None and found["lastError"] is None


def test_a_failed_first_sync_shows_its_error_over_the_snapshot(session: Session, owner: User) -> None:
    ensure_offline_catalogue(session)
    session.add(CatalogSyncState(source="pokemontcg", key="sets", status="failed", last_error="Offline."))
    session.flush()
    found = pokemontcg(session, owner)
    assert (found["status"], found["source"], found["lastError"]) == ("error", "offline snapshot", "Offline.")
    assert found["lastErrorAt"] is not None and found["lastSuccessAt"] is None


def test_a_synced_set_makes_the_catalogue_live(session: Session, owner: User) -> None:
    ensure_offline_catalogue(session)
    synced, expires = utcnow(), utcnow() + timedelta(days=1)
    session.add(CatalogSyncState(source="pokemontcg", key="set:base1", status="complete", fetched_at=synced,
                                 expires_at=expires))  # fmt: skip
    session.flush()
    found = pokemontcg(session, owner)
    assert (found["status"], found["source"], found["snapshotDate"]) == ("ok", "live", None)
    assert found["lastSuccessAt"] is not None and found["cacheExpiresAt"] is not None


def test_loading_the_demo_never_rewrites_a_release_discogs_described(session: Session, owner: User) -> None:
    demo_release = json.loads(DEMO_PATH.read_text())["records"][0]["release_id"]
    cache_releases(session, [{"release_id": demo_release, "title": "As Discogs says", "artist": "Them"}])
    before = service_status(session, owner, "discogs")["lastSuccessAt"]
    load_demo(session, owner.id)
    row = session.get(DiscogsRelease, demo_release)
    assert row is not None and (row.title, row.artist) == ("As Discogs says", "Them")
    assert service_status(session, owner, "discogs")["lastSuccessAt"] == before
