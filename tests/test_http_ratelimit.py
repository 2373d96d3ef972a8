"""Limiter maths with an injected clock, server-header adaptation, and a threaded soundness check."""

from __future__ import annotations

import heapq
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.config import load_settings
from services.http import reset_limiters, shared_limiter
from services.http.ratelimit import DISCOGS_HEADERS, INF, LimiterTimeout, SlidingWindowLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_then_wait_until_oldest_slot_frees() -> None:
    clock = FakeClock()
    lim = SlidingWindowLimiter(3, 10.0, clock=clock)
    for t in (0.0, 1.0, 2.0):
        clock.now = 1000 + t
        assert lim.try_acquire() == 0.0
        lim.release()
    clock.now = 1003.0
    assert lim.try_acquire() == pytest.approx(7.0)  # first slot released at 1000 frees at 1010
    clock.now = 1010.0
    assert lim.try_acquire() == 0.0


def test_in_flight_requests_hold_their_slot() -> None:
    clock = FakeClock()
    lim = SlidingWindowLimiter(2, 1.0, clock=clock)
    assert lim.try_acquire() == 0.0 and lim.try_acquire() == 0.0
    clock.now += 50  # a very slow request: still counted until it is released
    assert lim.try_acquire() == INF
    lim.release()
    assert lim.try_acquire() == pytest.approx(1.0)  # released now: counted for one more window
    clock.now += 1.0
    assert lim.try_acquire() == 0.0


def test_max_concurrency_serializes() -> None:
    lim = SlidingWindowLimiter(100, 60.0, max_concurrency=1, clock=FakeClock())
    assert lim.try_acquire() == 0.0
    assert lim.try_acquire() == INF
    lim.release()
    assert lim.try_acquire() == 0.0


def test_discogs_headers_lower_limit_and_remaining_zero() -> None:
    clock = FakeClock()
    lim = SlidingWindowLimiter(60, 60.0, headers=DISCOGS_HEADERS, clock=clock)
    assert lim.try_acquire() == 0.0
    lim.release()
    lim.observe(
        {"X-Discogs-Ratelimit": "25", "X-Discogs-Ratelimit-Used": "1", "X-Discogs-Ratelimit-Remaining": "24"}
    )
    assert lim.limit == 25
    # Another app on the same IP used the rest: the server says nothing is left.
    clock.now += 5
    lim.observe({"X-Discogs-Ratelimit": "25", "X-Discogs-Ratelimit-Remaining": "0"})
    assert lim.used() == 25
    assert lim.try_acquire() == pytest.approx(55.0)  # our own request (t=1000) frees first, at 1060
    clock.now = 1060.0
    assert lim.try_acquire() == 0.0
    # A later answer advertising 60 again restores the configured budget (never above it).
    lim.observe({"X-Discogs-Ratelimit": "240"})
    assert lim.limit == 60


def test_used_header_alone_is_enough() -> None:
    lim = SlidingWindowLimiter(10, 60.0, headers=DISCOGS_HEADERS, clock=FakeClock())
    lim.observe({"X-Discogs-Ratelimit": "10", "X-Discogs-Ratelimit-Used": "10"})
    assert lim.try_acquire() > 0


def test_garbage_headers_are_ignored() -> None:
    lim = SlidingWindowLimiter(10, 60.0, headers=DISCOGS_HEADERS, clock=FakeClock())
    lim.observe({"X-Discogs-Ratelimit": "lots", "X-Discogs-Ratelimit-Remaining": ""})
    assert lim.limit == 10 and lim.used() == 0


def test_pause_holds_everyone() -> None:
    clock = FakeClock()
    lim = SlidingWindowLimiter(10, 1.0, clock=clock)
    lim.pause_for(30)
    assert lim.try_acquire() == pytest.approx(30.0)
    clock.now += 30
    assert lim.try_acquire() == 0.0


def test_acquire_gives_up_past_max_wait() -> None:
    lim = SlidingWindowLimiter(1, 60.0)
    lim.acquire()
    lim.release()
    with pytest.raises(LimiterTimeout) as info:
        lim.acquire(max_wait=1.0)
    assert info.value.wait == pytest.approx(60.0, abs=0.5)


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(1, 8),
    window=st.floats(0.5, 20.0),
    gaps=st.lists(st.floats(0.0, 3.0), min_size=1, max_size=60),
    durations=st.lists(st.floats(0.0, 2.0), min_size=1, max_size=60),
)
def test_no_window_ever_holds_more_than_limit(
    limit: int, window: float, gaps: list[float], durations: list[float]
) -> None:
    """Simulate greedy, overlapping callers. The server may see each request anywhere in [start, end], so
    for any window [s, s + window) the worst case counts every span intersecting it: must stay <= limit."""
    clock = FakeClock()
    lim = SlidingWindowLimiter(limit, window, clock=clock)
    starts: list[float] = []
    ends: dict[int, float] = {}
    in_flight: list[tuple[float, int]] = []  # heap of (end time, request index)

    def advance(target: float) -> None:
        while in_flight and in_flight[0][0] <= target:
            end, index = heapq.heappop(in_flight)
            clock.now = max(clock.now, end)
            lim.release()
            ends[index] = clock.now
        clock.now = max(clock.now, target)

    for i, gap in enumerate(gaps):
        advance(clock.now + gap)
        wait = lim.try_acquire()
        while wait > 0:
            advance(clock.now + wait if wait != INF else in_flight[0][0])
            wait = lim.try_acquire()
        starts.append(clock.now)
        heapq.heappush(in_flight, (clock.now + durations[i % len(durations)], i))
    advance(max((e for e, _ in in_flight), default=clock.now))
    spans = [(starts[i], ends[i]) for i in range(len(starts))]
    for _, s in spans:  # the worst window starts at some request's end
        assert sum(1 for a, b in spans if a < s + window and b >= s) <= limit


def test_threads_share_one_budget() -> None:
    """8 threads x 5 requests through one limiter (limit 10 per 0.5 s): start times never overlap badly."""
    lim = SlidingWindowLimiter(10, 0.5)
    starts: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            with lim.slot(), lock:
                starts.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    starts.sort()
    assert len(starts) == 40
    for i in range(len(starts) - 10):
        assert starts[i + 10] - starts[i] >= 0.5 - 1e-3
    assert starts[-1] - starts[0] < 4.0  # 40 requests at 10 per 0.5 s need ~1.5 s, not much more


def test_shared_limiter_is_one_per_service() -> None:
    reset_limiters()
    try:
        settings_ = load_settings({"DISCOGS_RATE_LIMIT": "7", "DISCOGS_RATE_WINDOW": "3"})
        a = shared_limiter("discogs", settings_)
        b = shared_limiter("discogs", settings_)
        assert a is b and a.limit == 7 and a.window == 3.0
        assert shared_limiter("numista", settings_) is not a
        assert shared_limiter("numista", settings_).max_concurrency == 1
        changed = shared_limiter("discogs", load_settings({"DISCOGS_RATE_LIMIT": "5"}))
        assert changed is a and a.limit == 5
        with pytest.raises(ValueError):
            shared_limiter("ebay", settings_)
    finally:
        reset_limiters()


def test_pokemontcg_default_depends_on_key() -> None:
    assert load_settings().pokemontcg_rate_limit in (30, 60)
    assert load_settings({"POKEMONTCG_API_KEY": "k" * 8}).pokemontcg_rate_limit == 60
    assert load_settings({"POKEMONTCG_RATE_LIMIT": "12"}).pokemontcg_rate_limit == 12
