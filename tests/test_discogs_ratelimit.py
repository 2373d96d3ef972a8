"""The Discogs budget is shared by every process through the database: two limiters (as two processes
would hold) on one database never send more than the emulator's moving window allows, and adapt to
X-Discogs-Ratelimit-Remaining (traffic they did not send)."""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.integrations.discogs.api import Credentials, DiscogsApi
from services.integrations.discogs.ratelimit import DatabaseWindowLimiter, RedisWindowLimiter
from services.store.models import User
from tests.discogs_support import discogs_settings
from tests.emulators.discogs import PERSONAL_TOKEN, DiscogsEmulator


def test_two_processes_share_one_budget_without_a_429(engine: Engine, session: Session, owner: User,
                                                       emulator_factory: Any) -> None:
    session.commit()
    emulator = emulator_factory(DiscogsEmulator, rate_limit=6, rate_window=1.0)
    settings = discogs_settings(emulator, HTTP_MAX_RETRIES="0")  # a 429 would surface as an error
    errors: list[BaseException] = []

    def process() -> None:
        limiter = DatabaseWindowLimiter(engine, 6, 1.0)  # each "process" has its own limiter object
        try:
            with DiscogsApi(settings, Credentials("personal", PERSONAL_TOKEN), limiter=limiter) as api:
                for _ in range(9):
                    api.release(1)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=process) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    statuses = [a[3] for a in emulator.answers]
    assert len(statuses) == 18 and 429 not in statuses
    arrivals = sorted(a[0] for a in emulator.answers)
    assert max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals) <= 6


def test_other_traffic_reported_by_discogs_is_counted(engine: Engine) -> None:
    limiter = DatabaseWindowLimiter(engine, 10, 60.0)
    limiter.observe({"X-Discogs-Ratelimit": "10", "X-Discogs-Ratelimit-Remaining": "2"})
    assert limiter.used() == 8
    assert limiter.try_acquire() == 0.0 and limiter.try_acquire() == 0.0
    assert limiter.try_acquire() > 0  # the budget is used up for this window


REDIS_URL = os.environ.get("VITRINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


@pytest.fixture
def redis_client() -> Any:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} (set VITRINE_TEST_REDIS_URL)")
    key = f"vitrine-test:discogs:{uuid.uuid4().hex}"
    yield client, key
    client.delete(key)


def test_with_redis_two_processes_share_one_budget(redis_client: Any, emulator_factory: Any) -> None:
    client, key = redis_client
    emulator = emulator_factory(DiscogsEmulator, rate_limit=6, rate_window=1.0)
    settings = discogs_settings(emulator, HTTP_MAX_RETRIES="0")
    errors: list[BaseException] = []

    def process() -> None:
        limiter = RedisWindowLimiter(client, 6, 1.0, key=key)
        try:
            with DiscogsApi(settings, Credentials("personal", PERSONAL_TOKEN), limiter=limiter) as api:
                for _ in range(9):
                    api.release(1)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=process) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert [a[3] for a in emulator.answers].count(200) == 18
    limiter = RedisWindowLimiter(client, 6, 60.0, key=key + ":observe")
    limiter.observe({"X-Discogs-Ratelimit": "6", "X-Discogs-Ratelimit-Remaining": "1"})
    assert limiter.used() == 5 and limiter.try_acquire() == 0.0 and limiter.try_acquire() > 0
    client.delete(key + ":observe")


def test_redis_url_selects_the_redis_limiter(engine: Engine, discogs_emulator: DiscogsEmulator) -> None:
    from services.integrations.discogs.ratelimit import DatabaseWindowLimiter, shared_discogs_limiter

    assert isinstance(shared_discogs_limiter(engine, discogs_settings(discogs_emulator)), DatabaseWindowLimiter)
    with_redis = discogs_settings(discogs_emulator, REDIS_URL=REDIS_URL)
    assert isinstance(shared_discogs_limiter(engine, with_redis), RedisWindowLimiter)
