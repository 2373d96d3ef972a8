"""The request budgets every process of one installation shares (``rate_slots``).

One row per request sent to a rate-limited service (Discogs, Numista) by any process of this installation,
pruned after the service's window. Why in the database: Discogs counts requests per source IP and Numista
per key, so two servers and two workers with a budget each would together send several times the allowed
rate (services/http/shared_ratelimit.py; Redis holds the same slots instead when REDIS_URL is set).
"""

from __future__ import annotations

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.store.models import Base


class RateSlot(Base):
    """One request of this installation to ``service``: counts while ``at`` is within the service's window."""

    __tablename__ = "rate_slots"
    __table_args__ = (Index(None, "service", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service: Mapped[str] = mapped_column(String(32), doc="services.http service key: discogs, numista")
    at: Mapped[float] = mapped_column(
        Float, doc="epoch seconds: while in flight, the latest the answer may come; then when it came"
    )
