"""Shared set-up of the tests of the installation-wide request budgets (tests/test_*_ratelimit.py): a Redis
client with a key prefix of the test's own, "processes" side by side, and the check that no moving window
held too many requests."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

REDIS_URL = os.environ.get("VITRINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


@pytest.fixture
def redis_client() -> Iterator[tuple[Any, str]]:
    """A client of the test Redis and a key prefix no other test (or person) uses; its keys are deleted after."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} (set VITRINE_TEST_REDIS_URL)")
    prefix = f"vitrine-test:{uuid.uuid4().hex}"
    yield client, prefix
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def most_in_any_window(arrivals: list[float], window: float) -> int:
    """The most request arrivals any moving window of ``window`` seconds held."""
    times = sorted(arrivals)
    return max((sum(1 for t in times if start <= t < start + window) for start in times), default=0)


def run_side_by_side(process: Callable[[], None], count: int = 2) -> None:
    """Run ``process`` in ``count`` threads at once (each standing for a server or worker process, with
    objects of its own) and fail with what any of them raised."""
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            process()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=guarded) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
