"""Trading-card tables: where a catalogue sync stands, per source and per piece (set list, one set's cards).

Why a table and not a file: a sync of ~20,000 cards is hundreds of requests; if it stops (network, rate limit,
a closed browser tab), the next run must continue at the page where it stopped and skip what is still fresh,
from any process (CLI, page, worker). The same rows carry `fetched_at`/`expires_at`, which is what the pages
read to show a stale-data banner, and a `revision` counter that in-process search indexes compare against.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.states import CatalogSyncStatus
from services.store.models import Base, one_of, utcnow
from services.store.types import UtcDateTime

SYNC_STATES = tuple(CatalogSyncStatus)


class CatalogSyncState(Base):
    """One row per (source, key): key "sets" = the set list, "set:<id>" = that set's cards,
    "catalog" = the whole catalogue (its `revision` moves whenever cards or sets are written)."""

    __tablename__ = "catalog_sync_state"
    __table_args__ = (one_of("status", CatalogSyncStatus),)

    source: Mapped[str] = mapped_column(String(20), primary_key=True, doc="pokemontcg")
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default=CatalogSyncStatus.PENDING)
    next_page: Mapped[int] = mapped_column(Integer, default=1, doc="first page the next run fetches")
    total_count: Mapped[int | None] = mapped_column(Integer, doc="totalCount the source reported")
    fetched_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revision: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
