"""REST API tables: members' API tokens and the rate-limit counters every server process shares.

Why tokens are stored as a SHA-256 digest and not a password hash: a token is 256 random bits, so it cannot be
guessed from its digest, and a digest lookup is one indexed read per request (a slow KDF would cost every call).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.store.models import Base, utcnow
from services.store.types import UtcDateTime


class ApiToken(Base):
    """One member's API token; the secret itself is shown once at creation and never stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, doc="sha256 hex of the token")
    prefix: Mapped[str] = mapped_column(String(16), doc="the token's first characters, to recognise it")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ApiRateCounter(Base):
    """A rate-limit counter (one window of one key), used when no REDIS_URL is configured."""

    __tablename__ = "api_rate_counters"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[float] = mapped_column(Float, index=True, doc="unix time when the counter lapses")
