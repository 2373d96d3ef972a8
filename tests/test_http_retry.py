"""Pure retry rules: backoff schedule, Retry-After parsing, which failures are retried for which methods."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.config import load_settings
from services.http.retry import (
    RetryPolicy,
    backoff_delay,
    is_idempotent,
    parse_retry_after,
    retryable_exception,
    retryable_status,
)


class _MaxRandom(random.Random):
    """uniform(a, b) -> b: exposes the ceiling of full jitter."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_backoff_ceiling_doubles_then_caps() -> None:
    policy = RetryPolicy(base_delay=0.5, max_sleep=3.0)
    ceilings = [backoff_delay(i, policy, _MaxRandom()) for i in range(6)]
    assert ceilings == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(attempt=st.integers(0, 60), seed=st.integers(0, 2**32))
def test_full_jitter_stays_within_zero_and_ceiling(attempt: int, seed: int) -> None:
    policy = RetryPolicy(base_delay=0.25, max_sleep=10.0)
    delay = backoff_delay(attempt, policy, random.Random(seed))
    assert 0.0 <= delay <= min(10.0, 0.25 * 2**attempt)


def test_full_jitter_is_spread_out() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(3, RetryPolicy(base_delay=1.0, max_sleep=60), rng) for _ in range(200)]
    assert min(delays) < 1.0 and max(delays) > 7.0  # uniform over [0, 8]: not a fixed wait


def test_policy_from_settings() -> None:
    settings = load_settings({"HTTP_MAX_RETRIES": "2", "HTTP_BACKOFF_BASE": "0.1", "HTTP_MAX_SLEEP": "5"})
    policy = RetryPolicy.from_settings(settings)
    assert (policy.max_retries, policy.base_delay, policy.max_sleep) == (2, 0.1, 5.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-4", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_http_date() -> None:
    now = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=90), usegmt=True)  # "Sat, 21 Nov 2026 12:01:30 GMT"
    assert parse_retry_after(header, now=now) == pytest.approx(90.0)
    past = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(st.text(max_size=40))
def test_retry_after_never_raises(value: str) -> None:
    result = parse_retry_after(value)
    assert result is None or result >= 0.0


def test_idempotency_rules() -> None:
    policy = RetryPolicy()
    assert all(is_idempotent(m, policy) for m in ("GET", "head", "PUT", "DELETE", "OPTIONS"))
    assert not is_idempotent("POST", policy) and not is_idempotent("PATCH", policy)
    assert is_idempotent("POST", policy, override=True)
    assert not is_idempotent("GET", policy, override=False)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_retried_only_when_idempotent(status: int) -> None:
    assert retryable_status(status, idempotent=True)
    assert not retryable_status(status, idempotent=False)


def test_429_retried_for_every_method_and_4xx_never() -> None:
    assert retryable_status(429, idempotent=False) and retryable_status(429, idempotent=True)
    for status in (400, 401, 403, 404, 409, 422, 501):
        assert not retryable_status(status, idempotent=True)


def test_connect_errors_retried_for_post_but_read_errors_not() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/")
    not_sent = [
        httpx.ConnectError("x", request=request),
        httpx.ConnectTimeout("x", request=request),
        httpx.PoolTimeout("x", request=request),
    ]
    maybe_sent = [
        httpx.ReadTimeout("x", request=request),
        httpx.WriteTimeout("x", request=request),
        httpx.ReadError("x", request=request),
        httpx.RemoteProtocolError("x", request=request),
    ]
    for exc in not_sent:
        assert retryable_exception(exc, idempotent=False), type(exc)
    for exc in maybe_sent:
        assert not retryable_exception(exc, idempotent=False), type(exc)
        assert retryable_exception(exc, idempotent=True), type(exc)
