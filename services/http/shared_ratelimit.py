"""A service's request budget shared by every process of one installation (every Streamlit server's sessions,
every ``python -m services worker``), kept in the database, or in Redis when REDIS_URL is set.

Why: Discogs counts requests per source IP (notes/discogs.md §3.1) and Numista per key, answering 429 to
"too many simultaneous requests" too; two servers and two workers with a process-local limiter each would
together send four times the allowed rate. So each request takes a slot (a row of ``rate_slots``, or a
member of a Redis sorted set) before it is sent. The slot's time is "in flight" (acquire time + the longest
a request may take) until the answer arrives, then the moment it arrived: the soundness argument of
services.http.ratelimit (no server-side window can hold more than ``limit`` of our requests) holds across
processes. Slots still in flight are what the concurrency cap counts (``at`` later than now).

Cost per request: taking a slot is one INSERT ... SELECT that inserts only while the budget has room, in
its own short transaction (PostgreSQL takes a transaction-scoped advisory lock per service first; SQLite's
write lock, taken by the INSERT before it reads, already serializes it), or one atomic Lua script in Redis;
the release is one UPDATE (ZADD). PostgreSQL commits them without waiting for the disk. The counts read an
index range (service, at), so old rows cost nothing and are pruned now and then, not per request.

Not shared: a Retry-After pause holds this process only (the others meet the 429 themselves and pause too),
and the limit a service advertises in its headers is adopted per process.
"""

from __future__ import annotations

import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BindParameter,
    Engine,
    Float,
    Integer,
    String,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Executable

from services.http.ratelimit import INF, Budget, LimiterTimeout, SlidingWindowLimiter, _header_int
from services.store.models import table_of
from services.store.models_http import RateSlot

ADVISORY_NAMESPACE = 0x56525354  # "VRST": first key of the per-service advisory lock (second: crc32 of the name)
PRUNE_EVERY = 64  # acquires of one process between two deletions of its service's expired slots
SLOTS = table_of(RateSlot)
NO_CAP = 2**31 - 1  # the concurrency cap of a service without one


def _slots_after(moment: BindParameter[float]) -> Any:
    """How many of the service's slots count after ``moment`` (one range of the (service, at) index)."""
    return select(func.count()).where(RateSlot.service == bindparam("service"), RateSlot.at > moment).scalar_subquery()


# Built once (every acquire binds new values): a slot is inserted only while fewer than :limit slots count in the
# window (later than :horizon) and fewer than :cap are in flight (later than :now), atomically, in one statement.
_TAKE = (
    insert(SLOTS)
    .from_select(
        ["service", "at"],
        select(bindparam("service", type_=String), bindparam("until", type_=Float)).where(
            _slots_after(bindparam("horizon", type_=Float)) < bindparam("limit", type_=Integer),
            _slots_after(bindparam("now", type_=Float)) < bindparam("cap", type_=Integer),
        ),
    )
    .returning(SLOTS.c.id)
)
_ASYNCHRONOUS_COMMIT_AND_LOCK = text(
    "SELECT set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock(:namespace, :key)"
)
_FINISH_ASYNCHRONOUSLY = (
    "UPDATE rate_slots SET at = :at FROM (SELECT set_config('synchronous_commit', 'off', true) AS value) AS setting"
    " WHERE rate_slots.id = :id AND setting.value IS NOT NULL"
)


class SharedWindowLimiter(SlidingWindowLimiter):
    """``SlidingWindowLimiter``'s interface (acquire/release/observe/pause_for) over slots every process
    sees. Subclasses store the slots; this class keeps the waiting, the per-thread slot of the request being
    sent and the adaptation to a service's rate headers in one place."""

    def __init__(self, service: str, budget: Budget, *, in_flight_cap: float, clock: Callable[[], float],
                 poll: float) -> None:  # fmt: skip
        super().__init__(budget.limit, budget.window, max_concurrency=budget.max_concurrency, headers=budget.headers,
                         clock=clock, poll=poll)  # fmt: skip
        self.service = service
        self.in_flight_cap = in_flight_cap
        self._mine = threading.local()  # the slots of the requests this thread is sending (innermost last)

    # -- storage, per backend ----------------------------------------------------------------------
    def _take(self, now: float) -> tuple[str | None, float]:
        """Atomically take a slot counting until ``now + in_flight_cap``: (its id, 0) or (None, seconds to
        wait, INF when only a release can free one)."""
        raise NotImplementedError

    def _finish(self, slot: str, now: float) -> None:
        """The request of ``slot`` got its answer at ``now``: from now on it counts until ``now + window``."""
        raise NotImplementedError

    def _add_phantoms(self, remaining: int, now: float) -> None:
        """Count requests of others so that no more than ``remaining`` slots are free."""
        raise NotImplementedError

    # -- the limiter interface ---------------------------------------------------------------------
    def try_acquire(self, now: float | None = None) -> float:
        now = self.clock() if now is None else now
        if now < self.paused_until:
            return self.paused_until - now
        slot, wait = self._take(now)
        if slot is not None:
            self._mine.slots = [*getattr(self._mine, "slots", []), slot]
        return wait

    def acquire(self, max_wait: float | None = None) -> float:
        start = self.clock()
        while True:
            wait = self.try_acquire()
            if wait <= 0:
                return self.clock() - start
            waited = self.clock() - start
            if max_wait is not None and (waited >= max_wait or (wait != INF and waited + wait > max_wait)):
                raise LimiterTimeout(waited + (0.0 if wait == INF else wait))
            # Another process's release cannot wake us: poll (every 50 ms by default, a few statements) while a
            # release is what we wait for.
            time.sleep(self.poll if wait == INF else min(wait, 1.0))

    def release(self, now: float | None = None) -> None:
        slots = getattr(self._mine, "slots", [])
        if slots:
            self._finish(slots.pop(), self.clock() if now is None else now)

    def observe(self, headers: Mapping[str, str], now: float | None = None) -> None:
        reported = _header_int(headers, self.headers.limit)
        used = _header_int(headers, self.headers.used)
        remaining = _header_int(headers, self.headers.remaining)
        if reported is not None and reported > 0:
            self.reported_limit = reported
        if remaining is None and used is not None and reported is not None:
            remaining = reported - used
        if remaining is not None:
            self._add_phantoms(max(0, remaining), self.clock() if now is None else now)


def _wait_for(at: float | None, window: float, now: float) -> float:
    """Seconds until the slot taken ``at`` stops counting; INF while it is in flight (a release frees it)."""
    if at is None or at > now:
        return INF
    return max(at + window - now, 1e-3)


class DatabaseWindowLimiter(SharedWindowLimiter):
    """The budget in the installation's database (table ``rate_slots``, one range of rows per service)."""

    def __init__(self, engine: Engine, service: str, budget: Budget, *, in_flight_cap: float = 60.0,
                 clock: Callable[[], float] = time.time, poll: float = 0.05) -> None:  # fmt: skip
        super().__init__(service, budget, in_flight_cap=in_flight_cap, clock=clock, poll=poll)
        self.engine = engine
        self._lock_values = {"namespace": ADVISORY_NAMESPACE, "key": zlib.crc32(service.encode()) & 0x7FFFFFFF}
        self._acquires = 0
        self._pipeline_sql: tuple[str, str] | None = None  # the lock and _TAKE in this dialect, for psycopg

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A short transaction on the slots. PostgreSQL: without waiting for its commit to reach the disk
        (a slot matters for a minute; losing the last ones in a crash costs nothing, while a flush per request
        cost more than everything else together), holding this service's advisory lock until it ends, both
        in one round trip. SQLite: its INSERT takes the write lock before it reads, and
        in WAL mode a commit does not flush."""
        with self.engine.begin() as connection:
            if self.engine.dialect.name == "postgresql":
                connection.execute(_ASYNCHRONOUS_COMMIT_AND_LOCK, self._lock_values)
            yield connection

    def _counted(self, now: float) -> Any:
        return (RateSlot.service == self.service) & (RateSlot.at > now - self.window)

    def _take(self, now: float) -> tuple[str | None, float]:
        cap = NO_CAP if self.max_concurrency is None else self.max_concurrency
        values = {"service": self.service, "now": now, "horizon": now - self.window, "limit": self.limit,
                  "cap": cap, "until": now + self.in_flight_cap}  # fmt: skip
        self._acquires += 1
        prune = self._acquires % PRUNE_EVERY == 0
        if self.engine.dialect.driver == "psycopg" and not prune:
            slot = self._take_in_one_round_trip(values)
            if slot is not None:
                return str(slot), 0.0
        with self._transaction() as connection:
            slot = connection.scalar(_TAKE, values)
            if slot is None or prune:
                connection.execute(delete(RateSlot).where(RateSlot.service == self.service,
                                                          RateSlot.at <= now - self.window))  # fmt: skip
            if slot is not None:
                return str(slot), 0.0
            return None, self._wait(connection, now)

    def _take_in_one_round_trip(self, values: dict[str, Any]) -> int | None:
        """The common case on PostgreSQL: _transaction and _TAKE sent as one psycopg pipeline, so BEGIN, the lock,
        the INSERT and COMMIT cost one network round trip instead of four (what a request's budget costs is
        mostly round trips: each wakes the server's backend). A refusal goes the ordinary way, to learn how long
        to wait."""
        if self._pipeline_sql is None:
            lock, take = (str(statement.compile(dialect=self.engine.dialect))
                          for statement in (_ASYNCHRONOUS_COMMIT_AND_LOCK, _TAKE))  # fmt: skip
            self._pipeline_sql = lock, take
        lock, take = self._pipeline_sql
        with self.engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None  # a checked-out connection always has one
            with driver.pipeline():
                driver.execute(lock, self._lock_values)
                taken = driver.execute(take, values)
                driver.commit()
            row = taken.fetchone()
            return None if row is None else int(row[0])

    def _wait(self, connection: Connection, now: float) -> float:
        if self.max_concurrency is not None:
            in_flight = connection.scalar(select(func.count()).where(RateSlot.service == self.service,
                                                                     RateSlot.at > now))  # fmt: skip
            if int(in_flight or 0) >= self.max_concurrency:
                return INF
        counted = int(connection.scalar(select(func.count()).where(self._counted(now))) or 0)
        over = counted - self.limit  # slots that must stop counting before ours fits: the over-th oldest
        oldest = connection.scalar(select(RateSlot.at).where(self._counted(now)).order_by(RateSlot.at)
                                   .offset(max(0, over)).limit(1))  # fmt: skip
        return _wait_for(oldest, self.window, now)

    def _finish(self, slot: str, now: float) -> None:
        finishing: Executable = update(RateSlot).where(RateSlot.id == int(slot)).values(at=now)
        if self.engine.dialect.name == "postgresql":  # with _transaction's asynchronous commit, in the statement
            finishing = text(_FINISH_ASYNCHRONOUSLY).bindparams(id=int(slot), at=now)
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(finishing)  # one statement, one round trip: no BEGIN, no COMMIT

    def used(self, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        with self.engine.connect() as connection:
            return int(connection.scalar(select(func.count()).where(self._counted(now))) or 0)

    def _add_phantoms(self, remaining: int, now: float) -> None:
        with self._transaction() as connection:
            counted = int(connection.scalar(select(func.count()).where(self._counted(now))) or 0)
            missing = self.limit - remaining - counted
            if missing > 0:  # other traffic on our IP or key: count it
                connection.execute(insert(SLOTS), [{"service": self.service, "at": now}] * missing)


# KEYS[1]: the service's sorted set of slots (member = slot id, score = until when it is in flight, then when
# its answer came). ARGV: now, window, limit, in-flight score, slot id, concurrency cap (0: none).
# Returns '0' (taken), '-1' (wait for a release) or the seconds to wait.
_ACQUIRE = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cap = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if cap > 0 and redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[1], '+inf') >= cap then
  return '-1'
end
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[5])
  redis.call('EXPIRE', KEYS[1], math.ceil(window * 2 + tonumber(ARGV[4]) - now))
  return '0'
end
local oldest = tonumber(redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')[2])
if oldest > now then
  return '-1'
end
return tostring(math.max(oldest + window - now, 0.001))
"""


class RedisWindowLimiter(SharedWindowLimiter):
    """The same budget in Redis (REDIS_URL): one atomic script per slot instead of a database transaction."""

    def __init__(self, client: Any, service: str, budget: Budget, *, key_prefix: str = "vitrine",
                 in_flight_cap: float = 60.0, clock: Callable[[], float] = time.time,
                 poll: float = 0.05) -> None:  # fmt: skip
        super().__init__(service, budget, in_flight_cap=in_flight_cap, clock=clock, poll=poll)
        self.client = client
        self.key = f"{key_prefix}:{service}:slots"
        self._script = client.register_script(_ACQUIRE)

    def _take(self, now: float) -> tuple[str | None, float]:
        slot = uuid.uuid4().hex
        args = [now, self.window, self.limit, now + self.in_flight_cap, slot, self.max_concurrency or 0]
        wait = float(self._script(keys=[self.key], args=args))
        if wait == 0:
            return slot, 0.0
        return None, INF if wait < 0 else wait

    def _finish(self, slot: str, now: float) -> None:
        self.client.zadd(self.key, {slot: now}, xx=True)

    def used(self, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        return int(self.client.zcount(self.key, f"({now - self.window}", "+inf"))

    def _add_phantoms(self, remaining: int, now: float) -> None:
        missing = self.limit - remaining - self.used(now)
        if missing > 0:
            self.client.zadd(self.key, {f"phantom:{uuid.uuid4().hex}": now for _ in range(missing)})


_REGISTRY: dict[tuple[str, str], SharedWindowLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def installation_limiter(engine: Engine, service: str, budget: Budget, *, redis_url: str | None,
                         in_flight_cap: float) -> SharedWindowLimiter:  # fmt: skip
    """The process's limiter object for ``service`` on this installation's shared budget: in Redis when
    ``redis_url`` is set, else in the database; re-configured in place when the settings changed."""
    where = redis_url or engine.url.render_as_string(hide_password=False)
    with _REGISTRY_LOCK:
        found = _REGISTRY.get((where, service))
        stale = isinstance(found, DatabaseWindowLimiter) and found.engine is not engine
        if found is None or stale:
            if redis_url:
                import redis

                found = RedisWindowLimiter(redis.Redis.from_url(redis_url), service, budget,
                                           in_flight_cap=in_flight_cap)  # fmt: skip
            else:
                found = DatabaseWindowLimiter(engine, service, budget, in_flight_cap=in_flight_cap)
            _REGISTRY[(where, service)] = found
        elif (found.configured_limit, found.window, found.max_concurrency) != (
            budget.limit, float(budget.window), budget.max_concurrency
        ):  # fmt: skip
            found.configure(budget.limit, budget.window, budget.max_concurrency)
        return found
