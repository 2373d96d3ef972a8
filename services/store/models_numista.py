"""Numista tables: the monthly call counter, issue and price caches, and per-user grade overrides.

Why tables and not memory: the free Numista plan allows 2,000 calls a month per key, and pages, the CLI
and the push worker are different processes. The counter must survive restarts so the app can say how
many calls are left and refuse to spend more; cached issues and prices (with `fetched_at`/`expires_at`)
are what make a second look at a coin cost zero calls.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.store.models import Base, CachedFact, utcnow
from services.store.types import UtcDateTime


class NumistaQuotaUsage(Base):
    """Numista calls one user's key made in one calendar month (UTC), counted as they are sent."""

    __tablename__ = "numista_quota_usage"

    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True, doc="YYYY-MM (UTC)")
    calls: Mapped[int] = mapped_column(Integer, default=0)
    exhausted_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime(), doc="when Numista answered 'Quota exceeded' this month"
    )
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class NumistaIssue(CachedFact, Base):
    """One issue (year / mint variant) of a Numista type: what prices and collected items refer to."""

    __tablename__ = "numista_issues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type_id: Mapped[int] = mapped_column(Integer, index=True)
    is_dated: Mapped[bool | None] = mapped_column(Boolean)
    year: Mapped[int | None] = mapped_column(Integer, doc="as written on the coin")
    gregorian_year: Mapped[int | None] = mapped_column(Integer)
    min_year: Mapped[int | None] = mapped_column(Integer, doc="undated issues")
    max_year: Mapped[int | None] = mapped_column(Integer, doc="undated issues")
    mint_letter: Mapped[str | None] = mapped_column(String(40))
    comment: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class NumistaCacheEntry(CachedFact, Base):
    """Freshness of answers fetched as a whole: a type's issue list, an issue's prices in one currency,
    a search. An empty answer ("no estimate") is remembered too, so it is not asked again every time."""

    __tablename__ = "numista_cache"

    key: Mapped[str] = mapped_column(String(200), primary_key=True, doc="issues:420, prices:4201:EUR, search:…")
    kind: Mapped[str] = mapped_column(String(20), doc="issues, prices, search")
    data: Mapped[Any | None] = mapped_column(JSON)


class NumistaGradeOverride(Base):
    """A user's own reading of a grade text: raw text (normalized) → Numista grade, or None = unmapped."""

    __tablename__ = "numista_grade_overrides"
    __table_args__ = (UniqueConstraint("owner_id", "raw"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    raw: Mapped[str] = mapped_column(String(120), doc="normalized grade text (services.grades)")
    grade: Mapped[str | None] = mapped_column(String(10), doc="g..unc; NULL forces 'unmapped'")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
