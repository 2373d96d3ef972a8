"""Client-side sliding-window rate limiter, one per service per process (services.http.shared_ratelimit
holds the same budget for every process of an installation).

Streamlit serves many sessions from one process and the sync worker runs in a thread beside them,
while the services count requests per IP (Discogs) or per key (Numista): so the budget must be
shared by every client of a service in the process, hence ``limiter_for(service)``.

Soundness: a request holds a slot from ``acquire`` until ``release`` plus ``window``. The server
sees it somewhere between those two instants, so no window of ``window`` seconds on the server can
hold more than ``limit`` of our requests, whatever the network delays. On top of the local count the
limiter adapts to what the server says (``observe``): a lower advertised limit is adopted, and a
"remaining" lower than we expect is filled with phantom entries stamped *now* (other traffic on the
same IP or key), so remaining=0 means waiting until the window frees.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

INF = float("inf")


@dataclass(frozen=True)
class RateHeaders:
    """Names of the headers a service uses to report its own rate limit (all optional)."""

    limit: str | None = None
    used: str | None = None
    remaining: str | None = None


DISCOGS_HEADERS = RateHeaders(
    "X-Discogs-Ratelimit", "X-Discogs-Ratelimit-Used", "X-Discogs-Ratelimit-Remaining"
)
NO_HEADERS = RateHeaders()


@dataclass(frozen=True)
class Budget:
    """One service's budget as configured: ``limit`` requests per ``window`` seconds, ``max_concurrency``
    in flight at once (None: no cap), and the headers the service reports its own limit in."""

    limit: int
    window: float
    max_concurrency: int | None = None
    headers: RateHeaders = NO_HEADERS


class LimiterTimeout(Exception):
    """A slot would take longer than the caller agreed to wait; ``wait`` says how long."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limiter wait {wait:.1f} s exceeds the allowed maximum")
        self.wait = wait


def _header_int(headers: Mapping[str, str], name: str | None) -> int | None:
    if not name:
        return None
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(float(raw.strip()))
    except ValueError:
        return None


class SlidingWindowLimiter:
    """At most ``limit`` requests in any ``window`` seconds (and at most ``max_concurrency`` in flight)."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        max_concurrency: int | None = None,
        headers: RateHeaders = NO_HEADERS,
        clock: Callable[[], float] = time.monotonic,
        poll: float = 0.05,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("rate limit needs limit >= 1 and window > 0")
        self.configured_limit = limit
        self.window = float(window)
        self.max_concurrency = max_concurrency
        self.headers = headers
        self.clock = clock
        self.poll = poll
        self.reported_limit: int | None = None
        self.paused_until = -INF
        self._in_flight = 0
        self._done: deque[float] = deque()  # end times of finished requests (and phantoms), ascending
        self._cond = threading.Condition()

    @property
    def limit(self) -> int:
        """The effective limit: the configured one, lowered to what the server last advertised."""
        if self.reported_limit is not None:
            return max(1, min(self.configured_limit, self.reported_limit))
        return self.configured_limit

    def configure(self, limit: int, window: float, max_concurrency: int | None = None) -> None:
        """Change the budget in place (settings reload) without losing the requests already counted."""
        with self._cond:
            self.configured_limit, self.window, self.max_concurrency = limit, float(window), max_concurrency
            self._cond.notify_all()

    def _prune(self, now: float) -> None:
        horizon = now - self.window
        while self._done and self._done[0] <= horizon:
            self._done.popleft()

    def used(self, now: float | None = None) -> int:
        """Slots currently counted (in flight + finished within the window)."""
        with self._cond:
            self._prune(self.clock() if now is None else now)
            return self._in_flight + len(self._done)

    def try_acquire(self, now: float | None = None) -> float:
        """Take a slot and return 0.0, or return the seconds to wait before trying again (inf: a release)."""
        with self._cond:
            now = self.clock() if now is None else now
            if now < self.paused_until:
                return self.paused_until - now
            if self.max_concurrency is not None and self._in_flight >= self.max_concurrency:
                return INF
            self._prune(now)
            if self._in_flight + len(self._done) < self.limit:
                self._in_flight += 1
                return 0.0
            over = self._in_flight + len(self._done) - self.limit  # entries that must expire first
            if over < len(self._done):
                return max(self._done[over] + self.window - now, 1e-6)
            return INF  # everything counted is in flight: wait for a release

    def acquire(self, max_wait: float | None = None) -> float:
        """Block until a slot is free; returns the seconds waited. Raises LimiterTimeout past ``max_wait``."""
        start = self.clock()
        with self._cond:
            while True:
                wait = self.try_acquire()
                if wait <= 0:
                    return self.clock() - start
                waited = self.clock() - start
                if max_wait is not None and wait != INF and waited + wait > max_wait:
                    raise LimiterTimeout(waited + wait)
                if max_wait is not None and wait == INF and waited >= max_wait:
                    raise LimiterTimeout(waited)
                # Condition.wait releases the lock; release() and observe() wake us early.
                self._cond.wait(timeout=self.poll if wait == INF else min(wait, max(self.poll, 1.0)))

    def release(self, now: float | None = None) -> None:
        """Mark a request finished: its slot stays counted until ``now + window``."""
        with self._cond:
            now = self.clock() if now is None else now
            self._in_flight = max(0, self._in_flight - 1)
            self._append_done(now)
            self._cond.notify_all()

    @contextmanager
    def slot(self, max_wait: float | None = None) -> Iterator[float]:
        """``with limiter.slot(): send()`` - acquire, and release even when the send raises."""
        waited = self.acquire(max_wait)
        try:
            yield waited
        finally:
            self.release()

    def _append_done(self, when: float) -> None:
        # Keep the deque sorted even if a caller passes an older timestamp.
        if self._done and when < self._done[-1]:
            when = self._done[-1]
        self._done.append(when)

    def pause_until(self, deadline: float) -> None:
        """Hold every caller until ``deadline`` (clock time), e.g. after a 429 with Retry-After."""
        with self._cond:
            self.paused_until = max(self.paused_until, deadline)

    def pause_for(self, seconds: float, now: float | None = None) -> None:
        """Hold every caller for ``seconds`` from now."""
        self.pause_until((self.clock() if now is None else now) + max(0.0, seconds))

    def observe(self, headers: Mapping[str, str], now: float | None = None) -> None:
        """Adapt to the service's own rate-limit headers (Discogs X-Discogs-Ratelimit-*)."""
        reported = _header_int(headers, self.headers.limit)
        used = _header_int(headers, self.headers.used)
        remaining = _header_int(headers, self.headers.remaining)
        if reported is not None and reported > 0:
            with self._cond:
                self.reported_limit = reported
        if remaining is None and used is not None and reported is not None:
            remaining = reported - used
        if remaining is not None:
            self._sync(remaining=max(0, remaining), now=now)

    def _sync(self, remaining: int, now: float | None) -> None:
        """Count phantom requests so our local view has no more than ``remaining`` free slots."""
        with self._cond:
            now = self.clock() if now is None else now
            self._prune(now)
            missing = self.limit - remaining - (self._in_flight + len(self._done))
            for _ in range(max(0, missing)):
                self._append_done(now)


_REGISTRY: dict[str, SlidingWindowLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def limiter_for(
    service: str,
    *,
    limit: int,
    window: float,
    max_concurrency: int | None = None,
    headers: RateHeaders = NO_HEADERS,
) -> SlidingWindowLimiter:
    """The process-wide limiter of ``service``, created on first use and re-configured if settings changed."""
    with _REGISTRY_LOCK:
        limiter = _REGISTRY.get(service)
        if limiter is None:
            limiter = SlidingWindowLimiter(limit, window, max_concurrency=max_concurrency, headers=headers)
            _REGISTRY[service] = limiter
        elif (limiter.configured_limit, limiter.window, limiter.max_concurrency) != (
            limit,
            float(window),
            max_concurrency,
        ):
            limiter.configure(limit, window, max_concurrency)
        return limiter


def reset_limiters() -> None:
    """Forget every shared limiter (tests; a settings reload that must start from a clean budget)."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()
