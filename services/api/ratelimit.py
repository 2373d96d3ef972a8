"""Rate limits of the REST API: a sliding window per token and per client IP, shared by every server process.

The `limits` library's sliding-window-counter strategy does the arithmetic (previous window weighted by how much
of it still overlaps, plus the current window) for both backends: its Redis storage when REDIS_URL is set, or
`SqlStorage` below, which keeps the counters in the app's own database (table `api_rate_counters`), so several
server processes of one instance share one budget without any extra service.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace

from limits import RateLimitItem, parse
from limits.storage import RedisStorage, Storage
from limits.storage.base import SlidingWindowCounterSupport
from limits.strategies import SlidingWindowCounterRateLimiter
from sqlalchemy import BindParameter, Connection, Engine, bindparam, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from services.store.models import table_of
from services.store.models_api import ApiRateCounter

_CLEANUP_ODDS = 500  # one hit in this many deletes lapsed counters
_SETTLE_SECONDS = 2  # a window's count is taken as final this long after it ended (see _settled_counts)
_SETTLED_MAX = 10_000  # previous windows' counts remembered per process
_NAMESPACE = "vitrine-api"


class SqlStorage(Storage, SlidingWindowCounterSupport):
    """Counters in the database: `incr` is one atomic upsert (INSERT ... ON CONFLICT DO UPDATE ... RETURNING),
    so concurrent processes never lose a hit."""

    STORAGE_SCHEME = ["vitrine+sql"]

    def __init__(self, engine: Engine) -> None:
        super().__init__(wrap_exceptions=False)
        self.engine = engine
        self.table = table_of(ApiRateCounter)
        # SQLite has one writer at a time, and a waiting writer polls with growing sleeps (1, 2, 5, 10 ms...): the
        # requests of this process take turns on a lock instead, each starting the moment the previous commits.
        # PostgreSQL locks the counter rows themselves, so its requests need no turn.
        self._writers: AbstractContextManager[object] = (
            threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()
        )
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        counter = self.table.c
        now: BindParameter[float] = bindparam("now")
        lapsed = counter.expires_at <= now
        # Built once: constructing these per request cost more than running them. The new row's own values
        # (`excluded`), so that several keys can be upserted by one statement (SQLAlchemy's insertmanyvalues).
        values = insert(self.table).values(
            key=bindparam("key"), count=bindparam("amount"), expires_at=bindparam("expires_at")
        )
        new = values.excluded
        self._upsert = values.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "count": case((lapsed, new.count), else_=counter.count + new.count),
                "expires_at": case((lapsed, new.expires_at), else_=counter.expires_at),
            },
        ).returning(counter.count)
        # A sliding window's current key is created in its own window with an expiry two windows later and only
        # counted during that window, so it never lapses while counted: its upsert adds without asking the time,
        # and with nothing but the rows' own values bound, SQLAlchemy sends every key's row in one INSERT.
        self._add_current = values.on_conflict_do_update(
            index_elements=["key"],
            set_={"count": counter.count + new.count, "expires_at": new.expires_at},
        ).returning(counter.key, counter.count)  # by key: in any order (an order asked for is one row at a time)
        self._settled: dict[str, int] = {}  # final counts of ended windows, by key (see _settled_counts)
        self._live = select(counter.key, counter.count, counter.expires_at).where(
            counter.key.in_(bindparam("keys", expanding=True)), counter.expires_at > bindparam("now")
        )

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def _increment(self, connection: Connection, key: str, amount: int, expiry: float, now: float) -> int:
        """One atomic upsert: the key's count after adding `amount` (a lapsed counter starts again)."""
        values = {"key": key, "amount": amount, "now": now, "expires_at": now + expiry}
        return int(connection.execute(self._upsert, values).scalar_one())

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self.engine.begin() as connection:
            count = self._increment(connection, key, amount, expiry, now)
            if random.randrange(_CLEANUP_ODDS) == 0:
                connection.execute(delete(self.table).where(self.table.c.expires_at <= now))
        return count

    def _read(self, keys: list[str], connection: Connection | None = None) -> dict[str, tuple[int, float]]:
        if connection is None:
            with self.engine.connect() as own:
                return self._read(keys, own)
        rows = connection.execute(self._live, {"keys": keys, "now": time.time()})
        return {key: (count, expires_at) for key, count, expires_at in rows}

    def get(self, key: str) -> int:
        return self._read([key]).get(key, (0, 0.0))[0]

    def get_expiry(self, key: str) -> float:
        return self._read([key]).get(key, (0, time.time()))[1]

    def check(self) -> bool:
        with self.engine.connect() as connection:
            connection.execute(select(1))
        return True

    def reset(self) -> int | None:
        self._settled.clear()  # (another process forgets its remembered counts when their window passes)
        with self.engine.begin() as connection:
            return connection.execute(delete(self.table)).rowcount

    def clear(self, key: str) -> None:
        self._settled.pop(key, None)
        with self.engine.begin() as connection:
            connection.execute(delete(self.table).where(self.table.c.key == key))

    # -- sliding window counter (same arithmetic as limits' MemoryStorage) ---------------------------------------
    @staticmethod
    def _window_keys(key: str, expiry: int, now: float) -> tuple[str, str]:
        return f"{key}/{int((now - expiry) / expiry)}", f"{key}/{int(now / expiry)}"

    def _window(self, key: str, expiry: int, now: float) -> tuple[int, float, int, float]:
        previous_key, current_key = self._window_keys(key, expiry, now)
        found = self._read([previous_key, current_key])
        previous_count = found.get(previous_key, (0, 0.0))[0]
        current_count = found.get(current_key, (0, 0.0))[0]
        previous_ttl = 0.0 if previous_count == 0 else (1 - (((now - expiry) / expiry) % 1)) * expiry
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return previous_count, previous_ttl, current_count, current_ttl

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        return self._window(key, expiry, time.time())

    def acquire_sliding_window_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return amount <= limit and self.acquire_all([key], limit, expiry, amount) is None

    def turn(self) -> AbstractContextManager[object]:
        """Held around a caller's transaction that counts hits (`acquire_all` with its connection): on SQLite this
        process's writers take turns, on PostgreSQL nothing is needed."""
        return self._writers

    def acquire_all(
        self, keys: Sequence[str], limit: int, expiry: int, amount: int = 1, connection: Connection | None = None
    ) -> str | None:
        """`amount` hits on each key's sliding window, all or none; returns the first key whose window is full
        (nothing is then counted), or None when the hit was counted everywhere.

        Alone, one short transaction of its own. With `connection`, the hits are counted in the caller's open
        transaction (held inside `turn()`), which must then be rolled back on a refusal: the REST API counts a
        request and resolves its token in one transaction, one round trip fewer per statement it shares.

        The current windows are incremented first (one statement for every key): the row lock (PostgreSQL) or the
        write lock (SQLite) makes concurrent hits on a key wait their turn, so each count includes every hit
        counted before it; then the previous windows are read."""
        if connection is not None:
            return self._count(connection, keys, limit, expiry, amount)
        with self._writers, self.engine.connect() as own, own.begin() as transaction:
            refused = self._count(own, keys, limit, expiry, amount)
            if refused is not None:
                transaction.rollback()
            return refused

    def _count(self, connection: Connection, keys: Sequence[str], limit: int, expiry: int, amount: int) -> str | None:
        now = time.time()
        windows = {key: self._window_keys(key, expiry, now) for key in sorted(set(keys))}  # one lock order
        weight = 1 - (((now - expiry) / expiry) % 1)  # the share of the previous window still inside
        values = [
            {"key": current_key, "amount": amount, "expires_at": now + 2 * expiry}
            for _previous_key, current_key in windows.values()
        ]
        upserted = connection.execute(self._add_current, values)  # one INSERT for every key (insertmanyvalues)
        current: dict[str, int] = {key: int(count) for key, count in upserted}
        # Remembered only when the window ended _SETTLE_SECONDS ago and this hit itself did not wait that long for
        # a lock (a wait here means other hits may be waiting too, some stamped before the window ended).
        settled = now % expiry >= _SETTLE_SECONDS and time.time() - now < _SETTLE_SECONDS
        previous = self._settled_counts(
            [previous_key for previous_key, _current_key in windows.values()], connection, settled=settled
        )
        for key in keys:
            previous_key, current_key = windows[key]
            if math.floor(previous[previous_key] * weight + current[current_key]) > limit:
                return key
        if random.randrange(_CLEANUP_ODDS) == 0:
            connection.execute(delete(self.table).where(self.table.c.expires_at <= now))
        return None

    def _settled_counts(self, keys: list[str], connection: Connection, *, settled: bool) -> dict[str, int]:
        """The final counts of these previous windows. A window no longer counts hits once the next has begun, so
        its count is read once per process and remembered (one statement fewer per request), but only once the
        window ended `_SETTLE_SECONDS` ago: a hit counted just before its end may not have committed yet. A hit
        that waited longer than that for a lock (an import holding SQLite's writer) and then counted into the ended
        window is missed by a process that remembered the count already: at most the hits that waited, for the
        rest of one window."""
        known = {key: self._settled.get(key) for key in keys} if settled else {}  # one look (another thread clears)
        missing = [key for key in keys if known.get(key) is None]
        found = self._read(missing, connection) if missing else {}
        counts = {key: found.get(key, (0, 0.0))[0] for key in missing}
        if settled:
            if len(self._settled) + len(counts) > _SETTLED_MAX:
                self._settled.clear()  # older windows' counts are never asked for again
            self._settled.update(counts)
        return {key: counts[key] if key in counts else int(known[key] or 0) for key in keys}

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        for window_key in self._window_keys(key, expiry, time.time()):
            self.clear(window_key)


@dataclass(frozen=True)
class Verdict:
    """The answer for one request: allowed, or refused because of `identity`'s budget (retry after N s)."""

    allowed: bool
    limit: RateLimitItem
    retry_after: int  # seconds; 0 when allowed (and in a refusal not yet `timed`)
    identity: str | None = None  # the identity whose budget refused the request
    category: str | None = None  # the refused budget's category


class ApiRateLimiter:
    """Budgets per category ("catalogue", "collection") for each identity ("token:<digest prefix>",
    "ip:10.0.0.3").

    A request counts against all of its identities at once (`hit`), or against none when one refuses. In the
    database that is one write transaction (SqlStorage.acquire_all: its own, or the REST API's, which resolves
    the token in the same one); on Redis each identity is tested, then counted by one atomic script call each
    (a request racing another for a budget's last slot may be refused after its first identity was counted)."""

    def __init__(self, storage: Storage, budgets: dict[str, str]) -> None:
        self.limits = {category: parse(text) for category, text in budgets.items()}
        self.storage = storage
        self.strategy = SlidingWindowCounterRateLimiter(storage)

    def hit(self, category: str, identities: Sequence[str], connection: Connection | None = None) -> Verdict:
        """Count one request against each identity, all or none. With `connection` (database storage; Redis counts
        on its own), in the caller's transaction, held inside `turn()`: a refusal then comes without its
        Retry-After, which `timed` reads once the caller has rolled the counts back and left its turn."""
        item = self.limits[category]
        if isinstance(self.storage, SqlStorage):
            keys = {item.key_for(_NAMESPACE, category, identity): identity for identity in identities}
            refused_key = self.storage.acquire_all(list(keys), item.amount, item.get_expiry(), connection=connection)
            refused = keys[refused_key] if refused_key is not None else None
        else:  # Redis: every identity tested first, then each counted (an atomic script call per identity)
            refused = next(
                (identity for identity in identities if not self.strategy.test(item, _NAMESPACE, category, identity)),
                None,
            )
            if refused is None:
                refused = next(
                    (id_ for id_ in identities if not self.strategy.hit(item, _NAMESPACE, category, id_)), None
                )
        if refused is None:
            return Verdict(True, item, 0)
        refusal = Verdict(False, item, 0, refused, category)
        return refusal if connection is not None and isinstance(self.storage, SqlStorage) else self.timed(refusal)

    def timed(self, refusal: Verdict) -> Verdict:
        """A refusal with its Retry-After: when the refusing identity's window frees a request."""
        assert refusal.identity is not None and refusal.category is not None
        reset_at, _remaining = self.strategy.get_window_stats(
            refusal.limit, _NAMESPACE, refusal.category, refusal.identity
        )
        return replace(refusal, retry_after=max(1, math.ceil(reset_at - time.time())))

    def turn(self) -> AbstractContextManager[object]:
        """What a caller's counting transaction is held inside (see SqlStorage.turn)."""
        return self.storage.turn() if isinstance(self.storage, SqlStorage) else nullcontext()


def build_limiter(engine: Engine, redis_url: str | None, catalogue: str, collection: str) -> ApiRateLimiter:
    """The instance's limiter: on Redis when `redis_url` is set (e.g. redis://127.0.0.1:6379/0), else the database.
    A malformed budget such as "60/fortnight" raises ValueError here, at startup."""
    storage: Storage = RedisStorage(redis_url) if redis_url else SqlStorage(engine)
    return ApiRateLimiter(storage, {"catalogue": catalogue, "collection": collection})
