"""The per-user monthly Numista call counter (table ``numista_quota_usage``).

Why: Numista's free plan allows 2,000 calls per calendar month per key and answers 429 "Quota exceeded"
after that; a real client once burnt 1,484 failed calls in a day because its local counter disagreed with
the server (notes/numista.md §6). So every call is counted here as it is sent, the app refuses to call once
the user's limit is reached, and a server "Quota exceeded" blocks further calls until the month ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.errors import InvalidInput
from services.store.models import Connection, utcnow
from services.store.models_numista import NumistaQuotaUsage

DEFAULT_MONTHLY_QUOTA = 2000  # Numista free plan (notes/numista.md §6)
QUOTA_SETTING = "monthly_quota"  # key in Connection.settings (per user: each user has their own key and plan)


@dataclass(frozen=True)
class QuotaStatus:
    """Calls used this month against the user's limit; `exhausted` = Numista itself said "Quota exceeded"."""

    month: str
    used: int
    limit: int
    exhausted: bool
    resets_on: date

    @property
    def remaining(self) -> int:
        return 0 if self.exhausted else max(0, self.limit - self.used)

    @property
    def blocked(self) -> bool:
        """True when no call should be sent before the month ends (or the limit is raised)."""
        return self.exhausted or self.used >= self.limit

    def to_json(self) -> dict[str, object]:
        return {
            "month": self.month, "used": self.used, "limit": self.limit, "remaining": self.remaining,
            "exhausted": self.exhausted, "resetsOn": self.resets_on.isoformat(),
        }  # fmt: skip


def current_month(now: datetime | None = None) -> str:
    """The counter's month key, in UTC (Numista's reset time zone is undocumented; UTC is the safe guess)."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m")


def _next_month_start(month: str) -> date:
    year, number = (int(part) for part in month.split("-"))
    return date(year + (number == 12), number % 12 + 1, 1)


def _numista_connection(session: Session, owner_id: int) -> Connection | None:
    return session.scalar(
        select(Connection).where(Connection.owner_id == owner_id, Connection.service == "numista")
    )


def monthly_limit(session: Session, owner_id: int) -> int:
    """The user's monthly limit: their own setting (a paid plan allows more), else the free plan's 2,000."""
    connection = _numista_connection(session, owner_id)
    value = (connection.settings or {}).get(QUOTA_SETTING) if connection is not None else None
    return int(value) if isinstance(value, int) and value > 0 else DEFAULT_MONTHLY_QUOTA


def set_monthly_limit(session: Session, owner_id: int, limit: int) -> None:
    """Store the user's monthly limit; raising it also lifts a local block of this month."""
    if not isinstance(limit, int) or limit < 1 or limit > 10_000_000:
        raise InvalidInput("The monthly Numista limit is a whole number of calls, at least 1.", code="INVALID_QUOTA")
    connection = _numista_connection(session, owner_id)
    if connection is None:
        raise InvalidInput("Connect Numista first (save your API key).", code="NOT_CONNECTED")
    connection.settings = {**(connection.settings or {}), QUOTA_SETTING: limit}
    clear_exhausted(session, owner_id)
    session.flush()


def quota_status(session: Session, owner_id: int, *, limit: int | None = None, month: str | None = None) -> QuotaStatus:
    """Calls counted for the user this month (column reads: never a stale ORM copy of the counter)."""
    month = month or current_month()
    row = session.execute(
        select(NumistaQuotaUsage.calls, NumistaQuotaUsage.exhausted_at).where(
            NumistaQuotaUsage.owner_id == owner_id, NumistaQuotaUsage.month == month
        )
    ).first()
    used, exhausted_at = (row[0], row[1]) if row is not None else (0, None)
    return QuotaStatus(
        month=month,
        used=int(used or 0),
        limit=limit if limit is not None else monthly_limit(session, owner_id),
        exhausted=exhausted_at is not None,
        resets_on=_next_month_start(month),
    )


def _upsert(session: Session, owner_id: int, month: str, *, calls: int, exhausted: bool) -> None:
    now = utcnow()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values: dict[str, object] = {"owner_id": owner_id, "month": month, "calls": calls, "updated_at": now}
    table = NumistaQuotaUsage.__table__
    changes: dict[str, object] = {"calls": table.c.calls + calls, "updated_at": now}
    if exhausted:
        values["exhausted_at"] = now
        changes["exhausted_at"] = now
    statement = insert(NumistaQuotaUsage).values(values)
    session.execute(statement.on_conflict_do_update(index_elements=["owner_id", "month"], set_=changes))


def record_calls(session: Session, owner_id: int, calls: int = 1, *, month: str | None = None) -> None:
    """Add calls to this month's counter (one atomic upsert: safe with a page and a worker at once)."""
    if calls:
        _upsert(session, owner_id, month or current_month(), calls=calls, exhausted=False)


def mark_exhausted(session: Session, owner_id: int, *, month: str | None = None) -> None:
    """Numista said "Quota exceeded": block calls for the rest of the month."""
    _upsert(session, owner_id, month or current_month(), calls=0, exhausted=True)


def clear_exhausted(session: Session, owner_id: int, *, month: str | None = None) -> None:
    """Lift this month's block (a call went through after all, or the user raised their limit)."""
    session.execute(
        update(NumistaQuotaUsage)
        .where(NumistaQuotaUsage.owner_id == owner_id, NumistaQuotaUsage.month == (month or current_month()))
        .values(exhausted_at=None)
    )
