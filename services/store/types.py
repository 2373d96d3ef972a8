"""Column types with one rule each, so no caller has to repair values read back from the database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in UTC, read back timezone-aware on every database.

    Why: SQLite has no timezone type and returns naive datetimes for ``DateTime(timezone=True)``, so
    comparing a stored moment with ``datetime.now(UTC)`` raised TypeError unless every reader remembered to
    attach UTC. Written moments are converted to UTC (a naive one is taken as UTC already).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
