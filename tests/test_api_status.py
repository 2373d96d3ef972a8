"""GET /api/status/external's pokemontcg entry (services.api.status) on SQLite and PostgreSQL: an empty catalogue,
the shipped offline snapshot (never reported as a sync), a live sync, and a failed first sync."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.api.framework import Call
from services.api.status import external_status
from services.api.tokens import TokenOwner
from services.integrations.pokemontcg.catalog import ensure_offline_catalogue
from services.store.models import PokemonSet, User, utcnow
from services.store.models_cards import CatalogSyncState


def pokemontcg(session: Session, owner: User) -> dict[str, Any]:
    member = TokenOwner(token_id=1, user_id=owner.id, username=owner.username, currency="EUR")
    status = external_status(Call(session, member, {}, None, None, {}, None))  # type: ignore[arg-type]
    found = status.model_dump(mode="json")["data"][0]
    assert found["service"] == "pokemontcg"
    return found


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
