"""GET /api/status/external: where each outside source stands for this member and instance.

pokemontcg.io from the catalogue sync ledger (catalog_sync_state), or the shipped offline snapshot before any sync;
Numista and Discogs from the member's connection, the newest cached answer and the newest push error. Read only: it
never calls the services.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.api.catalogue import aware
from services.api.framework import Call, Operation
from services.api.schemas import ExternalService, ExternalSource, ExternalState, ExternalStatus
from services.integrations.pokemontcg.catalog import snapshot_date
from services.states import CatalogSyncStatus
from services.store.models import Connection, DiscogsRelease, Item, PokemonCard, SyncLedger, utcnow
from services.store.models_cards import CatalogSyncState
from services.store.models_numista import NumistaCacheEntry


def _state(last_success: datetime | None, last_error_at: datetime | None, expires: datetime | None) -> ExternalState:
    if last_error_at is not None and (last_success is None or last_error_at > last_success):
        return ExternalState.error
    if last_success is None:
        return ExternalState.never
    if expires is not None and expires < utcnow():
        return ExternalState.stale
    return ExternalState.ok


def _pokemontcg(session: Session) -> ExternalService:
    """The sync ledger's view; before any set was synced, a catalogue that holds cards holds the offline snapshot
    (loaded on first use): reported as such with the snapshot's date, never as a sync that did not happen."""
    rows = session.scalars(select(CatalogSyncState).where(CatalogSyncState.source == "pokemontcg")).all()
    done = [r for r in rows if r.status == CatalogSyncStatus.COMPLETE and r.key != "catalog"]
    failed = [r for r in rows if r.last_error]
    success = _latest(aware(r.fetched_at) for r in done)
    error_row = max(failed, key=lambda r: _moment(aware(r.updated_at)), default=None)
    error_at = aware(error_row.updated_at) if error_row else None
    last_error = error_row.last_error if error_row else None
    if not done and session.scalar(select(PokemonCard.id).limit(1)) is not None:
        return ExternalService(
            service="pokemontcg",
            status=ExternalState.error if error_at else ExternalState.offline,
            source=ExternalSource.offline_snapshot,
            snapshotDate=snapshot_date(),
            lastSuccessAt=None,
            lastErrorAt=error_at,
            lastError=last_error,
            cacheExpiresAt=None,
        )
    expires = _earliest(aware(r.expires_at) for r in done)
    return ExternalService(
        service="pokemontcg",
        status=_state(success, error_at, expires),
        source=ExternalSource.live if done else None,
        snapshotDate=None,
        lastSuccessAt=success,
        lastErrorAt=error_at,
        lastError=last_error,
        cacheExpiresAt=expires,
    )


def _account_service(
    session: Session, owner_id: int, service: str, cache: type[NumistaCacheEntry | DiscogsRelease], kind: str
) -> ExternalService:
    connected = session.scalar(
        select(Connection.id).where(Connection.owner_id == owner_id, Connection.service == service)
    )
    # Rows the service itself answered have a time to live; the demo's and a CSV's facts have none (or none left).
    answered = cache.expires_at > cache.fetched_at
    fetched, expires = session.execute(
        select(func.max(cache.fetched_at), func.min(cache.expires_at)).where(answered)
    ).one()
    error = session.execute(
        select(SyncLedger.updated_at, SyncLedger.last_error)
        .join(Item, Item.id == SyncLedger.item_id)
        .where(
            Item.owner_id == owner_id,
            Item.kind == kind,
            SyncLedger.service == service,
            SyncLedger.last_error.is_not(None),
        )
        .order_by(SyncLedger.updated_at.desc())
        .limit(1)
    ).first()
    success, error_at, expires = aware(fetched), aware(error[0]) if error else None, aware(expires)
    status = _state(success, error_at, expires) if connected else ExternalState.not_connected
    return ExternalService(
        service=service,
        status=status,
        source=ExternalSource.live if success else None,
        snapshotDate=None,
        lastSuccessAt=success,
        lastErrorAt=error_at,
        lastError=error[1] if error else None,
        cacheExpiresAt=expires,
    )


def _latest(moments: Iterable[datetime | None]) -> datetime | None:
    return max((moment for moment in moments if moment is not None), default=None)


def _earliest(moments: Iterable[datetime | None]) -> datetime | None:
    return min((moment for moment in moments if moment is not None), default=None)


def _moment(moment: datetime | None) -> datetime:
    return moment or datetime.min.replace(tzinfo=UTC)


def external_status(call: Call) -> ExternalStatus:
    owner = call.owner.user_id
    return ExternalStatus(
        data=[
            _pokemontcg(call.session),
            _account_service(call.session, owner, "numista", NumistaCacheEntry, "coin"),
            _account_service(call.session, owner, "discogs", DiscogsRelease, "record"),
        ]
    )


OPERATIONS = [
    Operation(
        "GET",
        "/api/status/external",
        external_status,
        "Outside sources: status, last success, last error, cache expiry",
        ExternalStatus,
        "collection",
        "status",
    ),
]
