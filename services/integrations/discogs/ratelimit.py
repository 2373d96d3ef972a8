"""The Discogs request budget shared by every process of one installation (the server's sessions, every
``python -m services worker``), kept in the database.

Why: Discogs counts requests per source IP (notes/discogs.md §3.1), so two workers with a process-local
limiter each would together send twice the allowed rate and collect 429s. Each request takes a row in
``discogs_rate_slots`` before it is sent; the row's time is "in flight" (acquire time + the longest a
request may take) until the answer arrives, then the moment it arrived: the same soundness argument as
services.http.ratelimit (no server-side window can hold more than ``limit`` of our requests). Taking a slot
is one short transaction serialized by the database (SQLite: the write lock the first DELETE takes;
PostgreSQL: a transaction-scoped advisory lock), or with REDIS_URL one atomic Lua script on a sorted set.
It adapts to ``X-Discogs-Ratelimit-*`` like the
process-local limiter: "remaining" lower than we count means other traffic on the IP, filled with phantom
slots.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, text, update

from services.config import Settings
from services.http.ratelimit import DISCOGS_HEADERS, LimiterTimeout, SlidingWindowLimiter, _header_int
from services.store.models import table_of
from services.store.models_discogs import DiscogsRateSlot

ADVISORY_KEY = 0x44697363  # "Disc": one lock for the table, held only inside a slot transaction
SLOTS = table_of(DiscogsRateSlot)


class DatabaseWindowLimiter(SlidingWindowLimiter):
    """``SlidingWindowLimiter``'s interface (acquire/release/observe/pause_for) over a shared table."""

    def __init__(self, engine: Engine, limit: int, window: float, *, in_flight_cap: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        super().__init__(limit, window, headers=DISCOGS_HEADERS, clock=clock)
        self.engine = engine
        self.in_flight_cap = in_flight_cap
        self._mine = threading.local()  # the slot row of the request this thread is sending

    def _lock(self, connection: object) -> None:
        if self.engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_KEY})  # type: ignore[attr-defined]

    def try_acquire(self, now: float | None = None) -> float:
        now = self.clock() if now is None else now
        if now < self.paused_until:
            return self.paused_until - now
        with self.engine.begin() as connection:
            self._lock(connection)
            connection.execute(delete(DiscogsRateSlot).where(DiscogsRateSlot.at <= now - self.window))
            times = list(connection.scalars(select(DiscogsRateSlot.at).order_by(DiscogsRateSlot.at)))
            if len(times) < self.limit:
                row = connection.execute(insert(SLOTS).values(at=now + self.in_flight_cap)).inserted_primary_key
                assert row is not None  # a single-row INSERT always reports its key
                stack = getattr(self._mine, "rows", [])
                stack.append(int(row[0]))
                self._mine.rows = stack
                return 0.0
            over = len(times) - self.limit
            return max(times[over] + self.window - now, 1e-3)

    def acquire(self, max_wait: float | None = None) -> float:
        start = self.clock()
        while True:
            wait = self.try_acquire()
            if wait <= 0:
                return self.clock() - start
            waited = self.clock() - start
            if max_wait is not None and waited + wait > max_wait:
                raise LimiterTimeout(waited + wait)
            time.sleep(min(wait, 1.0))

    def release(self, now: float | None = None) -> None:
        stack = getattr(self._mine, "rows", [])
        if not stack:
            return
        row_id = stack.pop()
        with self.engine.begin() as connection:
            connection.execute(update(DiscogsRateSlot).where(DiscogsRateSlot.id == row_id)
                               .values(at=self.clock() if now is None else now))  # fmt: skip

    def used(self, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        with self.engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(DiscogsRateSlot)
                                         .where(DiscogsRateSlot.at > now - self.window)) or 0)  # fmt: skip

    def observe(self, headers: Mapping[str, str], now: float | None = None) -> None:
        reported = _header_int(headers, DISCOGS_HEADERS.limit)
        remaining = _header_int(headers, DISCOGS_HEADERS.remaining)
        if reported is not None and reported > 0:
            self.reported_limit = reported
        if remaining is None:
            return
        now = self.clock() if now is None else now
        with self.engine.begin() as connection:
            self._lock(connection)
            counted = int(connection.scalar(select(func.count()).select_from(DiscogsRateSlot)
                                            .where(DiscogsRateSlot.at > now - self.window)) or 0)  # fmt: skip
            missing = self.limit - max(0, remaining) - counted
            if missing > 0:  # other traffic on our IP: count it
                connection.execute(insert(SLOTS), [{"at": now}] * missing)


# KEYS[1]: the sorted set of slots (member = slot id, score = until when it counts).
# ARGV: now, window, limit, in-flight score, slot id. Returns 0 (taken) or the seconds to wait.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local count = redis.call('ZCARD', KEYS[1])
local limit = tonumber(ARGV[3])
if count < limit then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[5])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 2 + 120))
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return tostring(math.max(tonumber(oldest[2]) + tonumber(ARGV[2]) - tonumber(ARGV[1]), 0.001))
"""


class RedisWindowLimiter(SlidingWindowLimiter):
    """The same budget in Redis (REDIS_URL): one atomic script per slot instead of a database transaction."""

    def __init__(self, client: Any, limit: int, window: float, *, key: str = "vitrine:discogs:slots",
                 in_flight_cap: float = 60.0, clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        super().__init__(limit, window, headers=DISCOGS_HEADERS, clock=clock)
        self.client, self.key, self.in_flight_cap = client, key, in_flight_cap
        self._script = client.register_script(_ACQUIRE)
        self._mine = threading.local()

    def try_acquire(self, now: float | None = None) -> float:
        now = self.clock() if now is None else now
        if now < self.paused_until:
            return self.paused_until - now
        slot = uuid.uuid4().hex
        wait = float(self._script(keys=[self.key], args=[now, self.window, self.limit, now + self.in_flight_cap,
                                                         slot]))  # fmt: skip
        if wait <= 0:
            self._mine.slots = [*getattr(self._mine, "slots", []), slot]
        return wait

    acquire = DatabaseWindowLimiter.acquire

    def release(self, now: float | None = None) -> None:
        slots = getattr(self._mine, "slots", [])
        if slots:
            self.client.zadd(self.key, {slots.pop(): self.clock() if now is None else now}, xx=True)

    def used(self, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        return int(self.client.zcount(self.key, f"({now - self.window}", "+inf"))

    def observe(self, headers: Mapping[str, str], now: float | None = None) -> None:
        reported = _header_int(headers, DISCOGS_HEADERS.limit)
        remaining = _header_int(headers, DISCOGS_HEADERS.remaining)
        if reported is not None and reported > 0:
            self.reported_limit = reported
        if remaining is None:
            return
        now = self.clock() if now is None else now
        missing = self.limit - max(0, remaining) - self.used(now)
        if missing > 0:
            self.client.zadd(self.key, {f"phantom:{uuid.uuid4().hex}": now for _ in range(missing)})


_REGISTRY: dict[str, SlidingWindowLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def shared_discogs_limiter(engine: Engine, settings: Settings) -> SlidingWindowLimiter:
    """The process's limiter object for this installation: in Redis when REDIS_URL is set, else in the
    database (every process shares the budget through it)."""
    if settings.redis_url:
        with _REGISTRY_LOCK:
            found = _REGISTRY.get(settings.redis_url)
            if found is None:
                import redis

                client = redis.Redis.from_url(settings.redis_url)
                found = RedisWindowLimiter(client, settings.discogs_rate_limit, settings.discogs_rate_window,
                                           in_flight_cap=settings.http_timeout + 5)  # fmt: skip
                _REGISTRY[settings.redis_url] = found
            elif (found.configured_limit, found.window) != (settings.discogs_rate_limit,
                                                            float(settings.discogs_rate_window)):  # fmt: skip
                found.configure(settings.discogs_rate_limit, settings.discogs_rate_window)
            return found
    key = engine.url.render_as_string(hide_password=False)
    with _REGISTRY_LOCK:
        limiter = _REGISTRY.get(key)
        if not isinstance(limiter, DatabaseWindowLimiter) or limiter.engine is not engine:
            limiter = DatabaseWindowLimiter(engine, settings.discogs_rate_limit, settings.discogs_rate_window,
                                            in_flight_cap=settings.http_timeout + 5)  # fmt: skip
            _REGISTRY[key] = limiter
        elif (limiter.configured_limit, limiter.window) != (settings.discogs_rate_limit,
                                                            float(settings.discogs_rate_window)):  # fmt: skip
            limiter.configure(settings.discogs_rate_limit, settings.discogs_rate_window)
        return limiter
