"""Remembered answers: an expensive aggregate of one member (the Overview: a year of price observations
over every item) is computed once per version of the data it reads and kept in the database, so every
server process shares it and a repeat view is one indexed lookup.

Why it can never show a stale number:
- the basis of a memo is read *before* the answer is computed: the write counters of the member's items and
  of the prices (raised by database triggers on every write: services/store/models_memo.py), the card price
  order, the exchange rates file in use and the code that computes the answers. A write committed meanwhile
  can only make the answer newer than its basis, never older, and the next view then recomputes;
- the memo is written in the caller's transaction, so it rolls back with anything the caller rolls back
  (a counter value seen uncommitted can never come back with other data);
- an answer that depends on the clock (movers since 7 and 30 days ago) says until when it holds.
On SQLite a memo is only written when the database's one writer is free at once: a view during a long
import shows the computed answer without waiting for the import to commit.

remembered() always answers current figures (the Overview's background task uses it). recalled() reads a memo
as it is, saying whether it is still current, and never computes: the Overview page shows it at once while
a background task computes the current one (pages/overview.py), so no view waits for a recompute.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import Row, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from services.config import current_settings
from services.exchange_rates import ExchangeRates
from services.store.db import BUSY_TIMEOUT_MS
from services.store.models import utcnow
from services.store.models_memo import AggregateMemo, DataVersion

log = logging.getLogger(__name__)

T = TypeVar("T")
SHARED_SCOPE = "prices"  # price observations and latest prices; see migration 0010
SERVICES_DIR = Path(__file__).resolve().parent


def _items_scope(owner_id: int) -> str:
    return f"items:{owner_id}"


def basis(session: Session, owner_id: int, rates: ExchangeRates) -> str:
    """What a member's priced answers depend on, as one comparable string (one lookup by primary key)."""
    scopes = (_items_scope(owner_id), SHARED_SCOPE)
    if session.get_bind().dialect.name == "postgresql":  # the next write raises the counters again (0010)
        session.execute(select(func.set_config("vitrine.raised", "", True)))
    rows = session.execute(select(DataVersion.scope, DataVersion.version).where(DataVersion.scope.in_(scopes)))
    versions = {scope: version for scope, version in rows}
    order = ",".join(f"{source}:{metric}" for source, metric in current_settings().card_price_order)
    counted = ";".join(f"{scope}={versions.get(scope, 0)}" for scope in scopes)
    return f"{counted};order={order};rates={rates.fingerprint};code={code_version()}"


@cache
def code_version() -> str:
    """A digest of the services' source: an upgrade that changes how an answer is computed (a pricing rule, a
    held status, a new field) must not be answered from a memo the previous version computed. Read once per
    process (a few hundred kilobytes)."""
    digest = hashlib.sha256()
    for path in sorted(SERVICES_DIR.rglob("*.py")):
        digest.update(path.relative_to(SERVICES_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Recalled(Generic[T]):
    """A remembered answer read as it is, without computing it: a page shows it at once, current or not, while
    a background task computes the current one (pages/overview.py)."""

    value: T
    computed_at: datetime
    current: bool  # its basis matches the data now and it has not expired: what remembered() would return


def recalled(
    session: Session, owner_id: int, answer: str, currency: str, rates: ExchangeRates, shape: type[T]
) -> Recalled[T] | None:
    """The member's remembered ``answer`` in ``currency`` and whether it is current, never computing it (None:
    never remembered, or by another version of the code, whose fields may differ). Two lookups by primary key,
    like a warm remembered()."""
    current = basis(session, owner_id, rates)
    memo = _memo(session, owner_id, answer, currency)
    if memo is None or not memo.basis.endswith(f";code={code_version()}"):
        return None  # computed by another version of the code: its fields may not be this version's
    value = typing.cast(T, _decode(shape, json.loads(memo.payload)))
    return Recalled(value, memo.computed_at, _holds(memo, current))


def remembered(
    session: Session,
    owner_id: int,
    answer: str,
    currency: str,
    rates: ExchangeRates,
    shape: type[T],
    compute: Callable[[], tuple[T, datetime | None]],
    *,
    wait_for_writer: bool = False,
) -> T:
    """The member's ``answer`` in ``currency``: the memo when its basis is unchanged and it has not expired,
    else ``compute()`` (the answer and until when it holds, None for as long as the data is unchanged),
    remembered for the next view. ``shape`` is the answer's dataclass, to read the memo back.
    ``wait_for_writer``: on SQLite, wait for the one writer to remember it (a background task can; a view
    must not), and fail if it stays busy, instead of skipping the memo."""
    current = basis(session, owner_id, rates)
    memo = _memo(session, owner_id, answer, currency)
    if memo is not None and _holds(memo, current):
        return typing.cast(T, _decode(shape, json.loads(memo.payload)))
    value, valid_until = compute()
    _store(
        session,
        {
            "owner_id": owner_id,
            "answer": answer,
            "currency": currency,
            "basis": current,
            "valid_until": valid_until,
            "payload": json.dumps(_encode(value)),
            "computed_at": utcnow(),
        },
        wait=wait_for_writer,
    )
    return value


def _memo(
    session: Session, owner_id: int, answer: str, currency: str
) -> Row[str, datetime | None, str, datetime] | None:
    return session.execute(
        select(AggregateMemo.basis, AggregateMemo.valid_until, AggregateMemo.payload, AggregateMemo.computed_at)
        .where(AggregateMemo.owner_id == owner_id, AggregateMemo.answer == answer, AggregateMemo.currency == currency)
    ).first()  # fmt: skip


def _holds(memo: Row[str, datetime | None, str, datetime], current: str) -> bool:
    return bool(memo.basis == current and (memo.valid_until is None or utcnow() < memo.valid_until))


def _store(session: Session, row: dict[str, Any], *, wait: bool) -> None:
    from sqlalchemy.dialects import postgresql, sqlite  # here, as in services.pricing: not for a CLI start

    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(AggregateMemo)
    statement = statement.on_conflict_do_update(
        index_elements=["owner_id", "answer", "currency"],
        set_={name: statement.excluded[name] for name in ("basis", "valid_until", "payload", "computed_at")},
    )
    if dialect != "sqlite" or wait:
        session.execute(statement, row)
        return
    connection = session.connection()
    connection.exec_driver_sql("PRAGMA busy_timeout=0")
    try:
        session.execute(statement, row)
    except OperationalError as error:  # another connection is writing: keep the answer, skip the memo
        log.info("answer %s not remembered: %s", row["answer"], error.orig)
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


# ------------------------------------------------------------------- a dataclass answer as JSON and back
def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _encode(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_encode(element) for element in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):  # datetime included
        return value.isoformat()
    return value


def _decode(shape: Any, value: Any) -> Any:
    if value is None:
        return None
    origin, arguments = typing.get_origin(shape), typing.get_args(shape)
    if origin in (typing.Union, types.UnionType):
        return _decode(next(argument for argument in arguments if argument is not type(None)), value)
    if origin in (list, tuple):
        decoded = [_decode(arguments[0], element) for element in value]
        return decoded if origin is list else tuple(decoded)
    if dataclasses.is_dataclass(shape):
        hints = typing.get_type_hints(shape)
        return typing.cast(Any, shape)(**{field.name: _decode(hints[field.name], value[field.name])
                        for field in dataclasses.fields(shape) if field.init})  # fmt: skip
    if shape is Decimal:
        return Decimal(value)
    if shape is datetime:
        return datetime.fromisoformat(value)
    if shape is date:
        return date.fromisoformat(value)
    return value
