"""Rate limits of the REST API: a sliding window per token and per client IP, shared by every server process.

The `limits` library's sliding-window-counter strategy does the arithmetic (previous window weighted by how much
of it still overlaps, plus the current window) for both backends: its Redis storage when REDIS_URL is set, or
`SqlStorage` below, which keeps the counters in the app's own database (table `api_rate_counters`), so several
server processes of one instance share one budget without any extra service.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import RedisStorage, Storage
from limits.storage.base import SlidingWindowCounterSupport
from limits.strategies import SlidingWindowCounterRateLimiter
from sqlalchemy import Engine, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from services.store.models import table_of
from services.store.models_api import ApiRateCounter

_CLEANUP_ODDS = 500  # one hit in this many deletes lapsed counters


class SqlStorage(Storage, SlidingWindowCounterSupport):
    """Counters in the database: `incr` is one atomic upsert (INSERT ... ON CONFLICT DO UPDATE ... RETURNING),
    so concurrent processes never lose a hit."""

    STORAGE_SCHEME = ["vitrine+sql"]

    def __init__(self, engine: Engine) -> None:
        super().__init__(wrap_exceptions=False)
        self.engine = engine
        self.table = table_of(ApiRateCounter)
        dialect = engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        counter = self.table.c
        statement = self._insert(self.table).values(key=key, count=amount, expires_at=now + expiry)
        statement = statement.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "count": case((counter.expires_at <= now, amount), else_=counter.count + amount),
                "expires_at": case((counter.expires_at <= now, now + expiry), else_=counter.expires_at),
            },
        ).returning(counter.count)
        with self.engine.begin() as connection:
            count = connection.execute(statement).scalar_one()
            if random.randrange(_CLEANUP_ODDS) == 0:
                connection.execute(delete(self.table).where(counter.expires_at <= now))
        return int(count)

    def decr(self, key: str, amount: int = 1) -> int:
        counter = self.table.c
        with self.engine.begin() as connection:
            count = connection.execute(
                update(self.table)
                .where(counter.key == key)
                .values(count=counter.count - amount)
                .returning(counter.count)
            ).scalar()
        return int(count or 0)

    def _read(self, keys: list[str]) -> dict[str, tuple[int, float]]:
        now = time.time()
        counter = self.table.c
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(counter.key, counter.count, counter.expires_at).where(
                    counter.key.in_(keys), counter.expires_at > now
                )
            )
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
        with self.engine.begin() as connection:
            return connection.execute(delete(self.table)).rowcount

    def clear(self, key: str) -> None:
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
        if amount > limit:
            return False
        now = time.time()
        previous_count, previous_ttl, current_count, _ = self._window(key, expiry, now)
        if math.floor(previous_count * previous_ttl / expiry + current_count) + amount > limit:
            return False
        current_key = self._window_keys(key, expiry, now)[1]
        current_count = self.incr(current_key, 2 * expiry, amount)
        if math.floor(previous_count * previous_ttl / expiry + current_count) > limit:
            self.decr(current_key, amount)  # another process won the race for the last slot
            return False
        return True

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        for window_key in self._window_keys(key, expiry, time.time()):
            self.clear(window_key)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: RateLimitItem
    retry_after: int  # seconds; 0 when allowed
    remaining: int


class ApiRateLimiter:
    """Budgets per category ("catalogue", "collection") for each identity ("token:12", "ip:10.0.0.3")."""

    def __init__(self, storage: Storage, budgets: dict[str, str]) -> None:
        self.limits = {category: parse(text) for category, text in budgets.items()}
        self.strategy = SlidingWindowCounterRateLimiter(storage)

    def hit(self, category: str, identity: str) -> Verdict:
        item = self.limits[category]
        allowed = self.strategy.hit(item, "vitrine-api", category, identity)
        reset_at, remaining = self.strategy.get_window_stats(item, "vitrine-api", category, identity)
        retry_after = 0 if allowed else max(1, math.ceil(reset_at - time.time()))
        return Verdict(allowed, item, retry_after, remaining)


def build_limiter(engine: Engine, redis_url: str | None, catalogue: str, collection: str) -> ApiRateLimiter:
    """The instance's limiter: on Redis when `redis_url` is set (e.g. redis://127.0.0.1:6379/0), else the database.
    A malformed budget such as "60/fortnight" raises ValueError here, at startup."""
    storage: Storage = RedisStorage(redis_url) if redis_url else SqlStorage(engine)
    return ApiRateLimiter(storage, {"catalogue": catalogue, "collection": collection})
