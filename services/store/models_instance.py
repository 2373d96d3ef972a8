"""Facts about this installation itself (not about any user): today only its install id.

Why a table and not a file: the install id must travel with the data it describes. A copy of the database
is the same install (it holds the same ledger); a new or rebuilt database is a new install, and must not
claim what another one pushed (services.sync.markers).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from services.store.models import Base, utcnow
from services.store.types import UtcDateTime


class InstanceSetting(Base):
    """One setting of this installation, e.g. ``install_id``."""

    __tablename__ = "instance_settings"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
