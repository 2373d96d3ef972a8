"""Remembered answers (services/memo.py): an expensive aggregate kept with the version of the data it was
computed from, so a repeat view is one lookup instead of a pass over a year of price observations.

Why the versions are counted by database triggers (migration 0010) and not by the code that writes: every
writer (the ORM, Core executemany imports, catalogue syncs, the API, a cascade from a deleted member, a
hand-written statement) passes through the triggers, so no write path can be forgotten, and the counters
commit or roll back with the write itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.store.models import Base, utcnow
from services.store.types import UtcDateTime


class DataVersion(Base):
    """A counter the triggers raise on each write: ``items:<owner id>`` for a member's items, ``prices`` for
    price observations and latest prices (shared catalogue facts, and the members' own estimates)."""

    __tablename__ = "data_versions"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))


class AggregateMemo(Base):
    """One member's remembered answer in one currency, valid while its basis (data versions, price order,
    exchange rates file) is unchanged and, for answers that depend on the clock, until ``valid_until``."""

    __tablename__ = "aggregate_memos"

    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    answer: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    basis: Mapped[str] = mapped_column(Text)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    payload: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
