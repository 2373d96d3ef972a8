"""When to retry a request, and how long to wait: pure functions, so they test without a network.

Retry rules (the push engine relies on them, keep them explicit):

* Connect errors and connect/pool timeouts: the request provably never reached the server, so
  every method is retried, POST and PATCH included.
* HTTP 429: the server refused the request without acting on it, so every method is retried
  (Numista's *quota* 429 is not: it is mapped to QuotaExceededError and stops at once).
* HTTP 500/502/503/504, read/write timeouts, dropped connections: the server may have acted, so
  only idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE) are retried. A POST/PATCH fails fast
  and the caller (the push engine) reconciles against the remote state before trying again.
  A caller that knows a particular POST is safe may pass ``idempotent=True``.

Waits use exponential backoff with full jitter (uniform(0, min(cap, base * 2**attempt))), and a
``Retry-After`` header (seconds or an HTTP date) replaces the computed wait when present. No single
wait exceeds ``max_sleep``: if the server asks for longer we give up and raise with ``retry_after``
set, so a UI thread never blocks for minutes and a worker can reschedule the job.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES_IDEMPOTENT = frozenset({500, 502, 503, 504})
RETRY_STATUSES_ANY_METHOD = frozenset({429})
# Raised before any byte reached the server: safe to repeat whatever the method.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How many retries and how long waits may be (from Settings via ``RetryPolicy.from_settings``)."""

    max_retries: int = 4
    base_delay: float = 0.5
    max_sleep: float = 30.0
    max_limiter_wait: float = 120.0
    idempotent_methods: frozenset[str] = field(default=IDEMPOTENT_METHODS)

    @classmethod
    def from_settings(cls, settings: object) -> RetryPolicy:
        """Build from a Settings object (missing attributes fall back to the defaults above)."""
        return cls(
            max_retries=int(getattr(settings, "http_max_retries", cls.max_retries)),
            base_delay=float(getattr(settings, "http_backoff_base", cls.base_delay)),
            max_sleep=float(getattr(settings, "http_max_sleep", cls.max_sleep)),
        )


def backoff_delay(attempt: int, policy: RetryPolicy, rng: random.Random | None = None) -> float:
    """Full-jitter wait before retry ``attempt`` (0-based): spreads out clients that failed together."""
    ceiling = min(policy.max_sleep, policy.base_delay * (2 ** max(attempt, 0)))
    return (rng or random).uniform(0.0, ceiling)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP date); None if absent/invalid."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
            return None
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def is_idempotent(method: str, policy: RetryPolicy, override: bool | None = None) -> bool:
    """Whether repeating ``method`` is harmless; ``override`` lets a caller vouch for a POST."""
    if override is not None:
        return override
    return method.upper() in policy.idempotent_methods


def retryable_status(status: int, idempotent: bool) -> bool:
    """429 always; 5xx only when repeating the request cannot duplicate its effect."""
    if status in RETRY_STATUSES_ANY_METHOD:
        return True
    return idempotent and status in RETRY_STATUSES_IDEMPOTENT


def retryable_exception(exc: httpx.TransportError, idempotent: bool) -> bool:
    """Connect-phase failures always; failures after sending only for idempotent requests."""
    if isinstance(exc, NOT_SENT_ERRORS):
        return True
    return idempotent and isinstance(
        exc, (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
    )
