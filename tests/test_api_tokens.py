"""API tokens (services.api.tokens) and the rate limiter's database storage, on SQLite and PostgreSQL; the
Settings page section that creates and revokes tokens (AppTest)."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from services.accounts import ensure_local_user
from services.api import ratelimit
from services.api.ratelimit import ApiRateLimiter, SqlStorage
from services.api.tokens import create_token, digest, list_tokens, resolve_token, revoke_token
from services.context import open_context
from services.errors import NotFound
from services.store.models import User
from services.store.models_api import ApiToken

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def test_a_token_is_stored_hashed_and_resolves_to_its_member(session: Session, owner: User, other_owner: User) -> None:
    new = create_token(session, owner.id, "spreadsheet")
    assert new.token.startswith("vt_") and len(new.token) >= 40
    row = session.get(ApiToken, new.id)
    assert row is not None and row.token_hash == digest(new.token) and new.token not in (row.token_hash, row.prefix)
    found = resolve_token(session, new.token)
    assert found is not None and (found.user_id, found.username, found.token_id) == (owner.id, "ann", new.id)
    assert resolve_token(session, new.token + "x") is None
    assert resolve_token(session, "Bearer " + new.token) is None
    assert [t.name for t in list_tokens(session, owner.id)] == ["spreadsheet"]
    assert list_tokens(session, other_owner.id) == []


def test_revoked_tokens_and_disabled_members_stop_working(session: Session, owner: User, other_owner: User) -> None:
    first, second = create_token(session, owner.id, "a"), create_token(session, owner.id, "b")
    with pytest.raises(NotFound) as refused:
        revoke_token(session, other_owner.id, first.id)  # not theirs
    assert refused.value.code == "TOKEN_NOT_FOUND"
    revoke_token(session, owner.id, first.id)
    assert resolve_token(session, first.token) is None
    assert [t.id for t in list_tokens(session, owner.id)] == [second.id]
    owner.active = False
    session.flush()
    assert resolve_token(session, second.token) is None


def test_database_rate_limit_is_a_sliding_window_shared_by_storages(engine: Engine) -> None:
    """Two limiters on the same database (two server processes) share one budget."""
    first = ApiRateLimiter(SqlStorage(engine), {"catalogue": "3/minute", "collection": "2/minute"})
    second = ApiRateLimiter(SqlStorage(engine), {"catalogue": "3/minute", "collection": "2/minute"})
    identity = f"token:{time.time_ns()}"
    verdicts = [limiter.hit("catalogue", [identity]) for limiter in (first, second, first, second)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert 1 <= verdicts[-1].retry_after <= 120 and verdicts[-1].identity == identity
    assert first.hit("collection", [identity]).allowed  # each category has its own budget
    assert first.hit("catalogue", ["ip:elsewhere"]).allowed  # and each identity


def test_a_request_counts_against_its_address_and_token_all_or_nothing(engine: Engine) -> None:
    """One hit for [address, token]: refused by the token's spent budget, it is not counted for the address."""
    limiter = ApiRateLimiter(SqlStorage(engine), {"catalogue": "2/minute", "collection": "2/minute"})
    run = time.time_ns()
    address, token, neighbour = f"ip:a{run}", f"token:t{run}", f"ip:b{run}"
    assert limiter.hit("catalogue", [neighbour, token]).allowed
    assert limiter.hit("catalogue", [neighbour, token]).allowed
    refused = limiter.hit("catalogue", [address, token])
    assert not refused.allowed and refused.identity == token and refused.retry_after >= 1
    assert limiter.hit("catalogue", [address]).allowed and limiter.hit("catalogue", [address]).allowed  # 2 left
    third = limiter.hit("catalogue", [address])
    assert not third.allowed and third.identity == address


def test_an_ended_window_is_read_once_it_has_settled_and_late_hits_still_count(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The previous window's count is remembered per process (one statement fewer per request), but only once
    that window ended 2 s ago: a hit that commits just after its end must still count."""
    clock = [599.0]
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: clock[0]))
    mine, other = SqlStorage(engine), SqlStorage(engine)  # two server processes
    key = f"catalogue/ip:{time.time_ns()}"
    statements: list[str] = []

    def executed(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", executed)
    try:
        assert all(mine.acquire_all([key], 5, 60) is None for _ in range(4))  # window 9: 4 hits
        clock[0] = 600.5  # window 10 has begun; window 9 has not settled
        assert mine.acquire_all([key], 5, 60) is None  # 4 x 0.99 + 1
        clock[0] = 599.95
        assert other.acquire_all([key], 5, 60) is None  # a late hit on window 9 (5 now)
        clock[0] = 601.0
        assert mine.acquire_all([key], 5, 60) == key  # 5 x 0.98 + 2 = 6.9: refused (4 remembered would allow)
        clock[0] = 603.0  # settled: read once more, then remembered
        assert mine.acquire_all([key], 5, 60) == key
        statements.clear()
        clock[0] = 604.0
        assert mine.acquire_all([key], 5, 60) == key  # 5 x 0.93 + 2 = 6.6
        assert len(statements) == 1, statements  # the upsert alone
        clock[0] = 659.0  # near the end of window 10: window 9 weighs 0.02
        assert mine.acquire_all([key], 5, 60) is None
    finally:
        event.remove(engine, "before_cursor_execute", executed)


def test_every_key_is_counted_by_one_statement_and_the_remembered_counts_survive_a_clear(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request's address and token are counted by one INSERT; and a thread clearing the remembered counts
    while another reads the missing ones (PostgreSQL runs handlers side by side) is no error."""
    clock = [603.0]
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: clock[0]))
    storage = SqlStorage(engine)
    run = time.time_ns()
    address, token = f"catalogue/ip:{run}", f"catalogue/token:{run}"
    statements: list[str] = []

    def executed(*args: Any) -> None:
        statements.append(args[2])

    assert storage.acquire_all([address], 5, 60) is None  # the address's previous window remembered (0)
    reading = storage._read

    def cleared_meanwhile(keys: list[str], connection: Any = None) -> dict[str, tuple[int, float]]:
        storage._settled.clear()  # another thread, at _SETTLED_MAX
        return reading(keys, connection)

    monkeypatch.setattr(storage, "_read", cleared_meanwhile)
    event.listen(engine, "before_cursor_execute", executed)
    try:
        assert storage.acquire_all([address, token], 5, 60) is None
        inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
        assert len(inserts) == 1, statements
        monkeypatch.setattr(storage, "_read", reading)
        clock[0] = 604.0
        assert storage.acquire_all([address, token], 5, 60) is None  # reads the address's again (it was cleared)
        statements.clear()
        clock[0] = 605.0
        assert storage.acquire_all([address, token], 5, 60) is None  # both remembered now: the INSERT alone
        assert len(statements) == 1, statements
    finally:
        event.remove(engine, "before_cursor_execute", executed)


def test_settings_page_creates_shows_once_and_revokes_a_token(app_env: str) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/settings.py").run()
    at.text_input(key="api_token_name").input("my script")
    submit = next(b for b in at.button if b.label == "Create token")
    submit.click().run()
    assert not at.exception, at.exception
    shown = at.code[0].value
    context = open_context()
    with context.session() as session:
        owner = ensure_local_user(session)
        member = resolve_token(session, shown)
        assert member is not None and member.user_id == owner.id
        assert session.scalar(select(ApiToken.name)) == "my script"
    at.run()  # the token is shown once only
    assert not at.code
    at.button(key="api_token_revoke").click().run()
    assert not at.exception, at.exception
    with context.session() as session:
        assert resolve_token(session, shown) is None
