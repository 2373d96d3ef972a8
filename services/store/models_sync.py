"""Push-engine tables: worker heartbeats, per-user export preferences, per-item export options.

Jobs and their per-item outbox rows are `jobs` / `job_items` (services.store.models); these tables only
add what the engine needs around them:

* ``sync_workers``: one row per running worker with a heartbeat. A claimed outbox row whose worker has no
  fresh heartbeat belongs to a dead worker (killed, crashed, machine rebooted) and is reclaimed.
* ``sync_preferences``: what a user chose last time (target collection, internal-id opt-out, what to do
  with coins already synced), so the wizard and the CLI remember it.
* ``sync_item_options``: per-item export choices that are not item data (a grade override for Numista,
  "mark for swap"), so pushing never rewrites the item itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.store.models import Base, utcnow
from services.store.types import UtcDateTime


class SyncWorker(Base):
    """A live push worker (thread of the Streamlit server or `python -m services worker`)."""

    __tablename__ = "sync_workers"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    host: Mapped[str | None] = mapped_column(String(200))
    pid: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)


class SyncPreference(Base):
    """A user's remembered export choices for one service (JSON: collection, use_internal_id, on_synced)."""

    __tablename__ = "sync_preferences"

    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    service: Mapped[str] = mapped_column(String(20), primary_key=True)
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class SyncItemOption(Base):
    """Per-item export options for one service (JSON: e.g. {"grade": "vf", "for_swap": true})."""

    __tablename__ = "sync_item_options"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    service: Mapped[str] = mapped_column(String(20), primary_key=True)
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
