"""The Discogs budget is shared by every process through the database (or Redis): two limiters (as two
processes would hold) on one store never send more than the emulator's moving window allows, and adapt to
X-Discogs-Ratelimit-Remaining (traffic they did not send)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.http import shared_limiter
from services.http.ratelimit import DISCOGS_HEADERS, Budget
from services.http.shared_ratelimit import DatabaseWindowLimiter, RedisWindowLimiter, SharedWindowLimiter
from services.integrations.discogs.api import Credentials, DiscogsApi
from services.store.models import User
from tests.discogs_support import discogs_settings
from tests.emulators.discogs import PERSONAL_TOKEN, DiscogsEmulator
from tests.ratelimit_support import REDIS_URL, most_in_any_window, redis_client, run_side_by_side

__all__ = ["redis_client"]  # the fixture, for pytest


def _budget(limit: int, window: float) -> Budget:
    return Budget(limit, window, headers=DISCOGS_HEADERS)


def _two_processes_send(emulator: DiscogsEmulator, new_limiter: Any) -> None:
    settings = discogs_settings(emulator, HTTP_MAX_RETRIES="0")  # a 429 would surface as an error

    def process() -> None:
        limiter: SharedWindowLimiter = new_limiter()  # each "process" has its own limiter object
        with DiscogsApi(settings, Credentials("personal", PERSONAL_TOKEN), limiter=limiter) as api:
            for _ in range(9):
                api.release(1)

    run_side_by_side(process)
    statuses = [a[3] for a in emulator.answers]
    assert len(statuses) == 18 and 429 not in statuses
    assert most_in_any_window([a[0] for a in emulator.answers], 1.0) <= 6


def test_two_processes_share_one_budget_without_a_429(
    engine: Engine, session: Session, owner: User, emulator_factory: Any
) -> None:
    session.commit()
    emulator = emulator_factory(DiscogsEmulator, rate_limit=6, rate_window=1.0)
    _two_processes_send(emulator, lambda: DatabaseWindowLimiter(engine, "discogs", _budget(6, 1.0)))


def test_other_traffic_reported_by_discogs_is_counted(engine: Engine) -> None:
    limiter = DatabaseWindowLimiter(engine, "discogs", _budget(10, 60.0))
    limiter.observe({"X-Discogs-Ratelimit": "10", "X-Discogs-Ratelimit-Remaining": "2"})
    assert limiter.used() == 8
    assert limiter.try_acquire() == 0.0 and limiter.try_acquire() == 0.0
    assert limiter.try_acquire() > 0  # the budget is used up for this window


def test_with_redis_two_processes_share_one_budget(redis_client: Any, emulator_factory: Any) -> None:
    client, prefix = redis_client
    emulator = emulator_factory(DiscogsEmulator, rate_limit=6, rate_window=1.0)
    _two_processes_send(emulator, lambda: RedisWindowLimiter(client, "discogs", _budget(6, 1.0), key_prefix=prefix))
    limiter = RedisWindowLimiter(client, "discogs", _budget(6, 60.0), key_prefix=prefix + ":observe")
    limiter.observe({"X-Discogs-Ratelimit": "6", "X-Discogs-Ratelimit-Remaining": "1"})
    assert limiter.used() == 5 and limiter.try_acquire() == 0.0 and limiter.try_acquire() > 0


def test_redis_url_selects_the_redis_limiter(engine: Engine, discogs_emulator: DiscogsEmulator) -> None:
    in_database = shared_limiter("discogs", discogs_settings(discogs_emulator), engine)
    assert isinstance(in_database, DatabaseWindowLimiter) and in_database.headers == DISCOGS_HEADERS
    with_redis = discogs_settings(discogs_emulator, REDIS_URL=REDIS_URL)
    assert isinstance(shared_limiter("discogs", with_redis, engine), RedisWindowLimiter)
