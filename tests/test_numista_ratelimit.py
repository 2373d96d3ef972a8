"""Numista's per-minute budget and its concurrency cap are shared by every process of the installation
(through the database, or Redis with REDIS_URL): two "processes" (threads with an engine and a limiter each,
as two workers would have) pushing through one budget never exceed it together, and never have two requests
in flight at once against an emulator that answers 429 to simultaneous requests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine

from services.accounts import create_user
from services.accounts.connections import save_secret
from services.accounts.vault import Vault
from services.http.ratelimit import INF, Budget
from services.http.shared_ratelimit import DatabaseWindowLimiter, RedisWindowLimiter, SharedWindowLimiter
from services.integrations.numista.api import NumistaApi
from services.store.db import create_configured_engine, init_db, session_scope
from tests.emulators.numista import DEMO_API_KEY, NumistaEmulator
from tests.numista_support import numista_settings
from tests.ratelimit_support import REDIS_URL, most_in_any_window, redis_client, run_side_by_side

__all__ = ["redis_client"]  # the fixture, for pytest

LIMIT, WINDOW, CALLS_EACH = 6, 1.0, 9
BUDGET = Budget(LIMIT, WINDOW, max_concurrency=1)


def _connected_owner(engine: Engine, vault: Vault) -> int:
    with session_scope(engine) as session:
        owner = create_user(session, "ann", "a long enough password")
        save_secret(session, vault, owner.id, "numista", DEMO_API_KEY)
        return owner.id


def _two_processes_send(emulator: NumistaEmulator, url: str, new_limiter: Callable[[Engine], SharedWindowLimiter],
                        vault: Vault, owner_id: int) -> None:  # fmt: skip
    settings = numista_settings(emulator.base_url, HTTP_MAX_RETRIES="0")  # a 429 would surface as an error

    def process() -> None:
        engine = create_configured_engine(url)  # each "process" has its own engine and limiter object
        try:
            with NumistaApi(settings, engine, vault, owner_id, limiter=new_limiter(engine)) as api:
                for _ in range(CALLS_EACH):
                    api.get_type(420)
        finally:
            engine.dispose()

    run_side_by_side(process)
    answers = emulator.requests_to("/v3/types/*")
    assert len(answers) == 2 * CALLS_EACH
    assert most_in_any_window([r.timestamp for r in answers], WINDOW) <= LIMIT


def test_two_processes_share_one_numista_budget(engine: Engine, emulator_factory: Any) -> None:
    emulator = emulator_factory(NumistaEmulator, concurrency_limit=1)
    vault = Vault(Fernet.generate_key())
    owner_id = _connected_owner(engine, vault)
    url = engine.url.render_as_string(hide_password=False)
    _two_processes_send(emulator, url, lambda own: DatabaseWindowLimiter(own, "numista", BUDGET), vault, owner_id)


def test_with_redis_two_processes_share_one_numista_budget(redis_client: Any, emulator_factory: Any,
                                                           tmp_path: Path) -> None:  # fmt: skip
    client, prefix = redis_client
    emulator = emulator_factory(NumistaEmulator, concurrency_limit=1)
    url = f"sqlite:///{tmp_path / 'vitrine.db'}"
    init_db(create_configured_engine(url))
    vault = Vault(Fernet.generate_key())
    owner_id = _connected_owner(create_configured_engine(url), vault)

    def new_limiter(_engine: Engine) -> SharedWindowLimiter:
        return RedisWindowLimiter(client, "numista", BUDGET, key_prefix=prefix)

    _two_processes_send(emulator, url, new_limiter, vault, owner_id)


@pytest.fixture(params=["database", "redis"])
def two_limiters(request: pytest.FixtureRequest, engine: Engine) -> tuple[SharedWindowLimiter, SharedWindowLimiter]:
    """Two processes' limiters on one Numista budget, in the database (SQLite, PostgreSQL) or in Redis."""
    budget = Budget(10, 60.0, max_concurrency=1)
    if request.param == "database":
        return DatabaseWindowLimiter(engine, "numista", budget), DatabaseWindowLimiter(engine, "numista", budget)
    client, prefix = request.getfixturevalue("redis_client")
    return (RedisWindowLimiter(client, "numista", budget, key_prefix=prefix),
            RedisWindowLimiter(client, "numista", budget, key_prefix=prefix))  # fmt: skip


def test_the_concurrency_cap_holds_across_processes(two_limiters: tuple[SharedWindowLimiter, ...]) -> None:
    first, second = two_limiters
    assert first.try_acquire() == 0.0
    assert second.try_acquire() == INF  # one Numista request in flight anywhere: wait for its release
    first.release()
    assert second.try_acquire() == 0.0
    second.release()
    assert first.used() == 2


def test_numista_calls_take_the_installation_budget(engine: Engine, numista_emulator: NumistaEmulator) -> None:
    vault = Vault(Fernet.generate_key())
    owner_id = _connected_owner(engine, vault)
    settings = numista_settings(numista_emulator.base_url, NUMISTA_RATE_LIMIT="1000", NUMISTA_MAX_CONCURRENCY="2")
    with NumistaApi(settings, engine, vault, owner_id) as api:
        api.get_type(420)
        limiter = api._http().limiter
    assert isinstance(limiter, DatabaseWindowLimiter) and limiter.service == "numista"
    assert (limiter.limit, limiter.window, limiter.max_concurrency) == (1000, 60.0, 2)
    assert limiter.used() == 1
    with NumistaApi(numista_settings(numista_emulator.base_url, REDIS_URL=REDIS_URL), engine, vault, owner_id) as api:
        assert isinstance(api._http().limiter, RedisWindowLimiter)
