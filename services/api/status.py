"""GET /api/status/external: where each outside source stands for this member and instance.

pokemontcg.io from the catalogue sync ledger (catalog_sync_state); Numista and Discogs from the member's
connection, the newest cached answer and the newest push error. Read only: it never calls the services.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.api.catalogue import aware
from services.api.framework import Call, Operation
from services.api.schemas import ExternalService, ExternalState, ExternalStatus
from services.store.models import Connection, DiscogsRelease, Item, SyncLedger, utcnow
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
    rows = session.scalars(select(CatalogSyncState).where(CatalogSyncState.source == "pokemontcg")).all()
    done = [r for r in rows if r.status == "complete" and r.key != "catalog"]
    failed = [r for r in rows if r.last_error]
    success = max((aware(r.fetched_at) for r in done if r.fetched_at), default=None)
    error_row = max(failed, key=lambda r: aware(r.updated_at), default=None)
    error_at = aware(error_row.updated_at) if error_row else None
    expires = min((aware(r.expires_at) for r in done if r.expires_at), default=None)
    return ExternalService(
        service="pokemontcg",
        status=_state(success, error_at, expires),
        lastSuccessAt=success,
        lastErrorAt=error_at,
        lastError=error_row.last_error if error_row else None,
        cacheExpiresAt=expires,
    )


def _account_service(session: Session, owner_id: int, service: str, cache: type, kind: str) -> ExternalService:
    connected = session.scalar(
        select(Connection.id).where(Connection.owner_id == owner_id, Connection.service == service)
    )
    fetched, expires = session.execute(select(func.max(cache.fetched_at), func.min(cache.expires_at))).one()
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
        lastSuccessAt=success,
        lastErrorAt=error_at,
        lastError=error[1] if error else None,
        cacheExpiresAt=expires,
    )


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
