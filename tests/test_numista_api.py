"""The per-user Numista API over real HTTP against the emulator: OAuth token life cycle, the monthly call
counter, user-facing errors, the collected-item calls the push engine uses, and secrets kept out of the
database, exceptions and logs."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from services.accounts.connections import save_secret
from services.accounts.vault import Vault
from services.http import AuthError, NotFoundError, QuotaExceededError, ServiceError, ServiceUnavailableError
from services.integrations.numista import quota as quota_store
from services.integrations.numista.api import NumistaApi, NumistaNotConnected
from services.store.models import Connection, User
from services.store.models_numista import NumistaQuotaUsage
from tests.emulators.numista import DEMO_API_KEY, DEMO_USER_ID, NO_USER_API_KEY, NumistaEmulator
from tests.numista_support import *  # noqa: F403  (fixtures: api, connected, vault)
from tests.numista_support import numista_settings


def _token_requests(emulator: NumistaEmulator) -> int:
    return len(emulator.requests_to("/v3/oauth_token"))


def test_connection_check_gets_a_scoped_token_and_reports_user_token_and_quota(
    api: NumistaApi, numista_emulator: NumistaEmulator, engine: Engine, connected: User
) -> None:
    check = api.test_connection()

    token_request = numista_emulator.last_request("/v3/oauth_token")
    assert token_request is not None
    assert token_request.param("grant_type") == "client_credentials"
    assert set((token_request.param("scope") or "").split(",")) == {"view_collection", "edit_collection"}
    assert token_request.header("Numista-API-Key") == DEMO_API_KEY
    assert (check.user_id, check.username, check.token_renewed) == (DEMO_USER_ID, "demo", True)
    assert check.token_expires_at > time_now()
    # the emulator's tokens live 600 s: kept until 60 s before that
    assert 530 <= (check.token_expires_at - time_now()).total_seconds() <= 541
    assert check.quota.used == 2 == numista_emulator.quota_used()  # /oauth_token + /users/2104
    with Session(engine) as session:
        row = session.scalar(select(Connection).where(Connection.owner_id == connected.id))
        assert row is not None and row.remote_user == "demo" and row.settings == {"user_id": DEMO_USER_ID}
        assert row.token_encrypted is not None and row.token_expires_at is not None


def time_now():  # type: ignore[no-untyped-def]
    from services.store.models import utcnow

    return utcnow()


def test_token_is_reused_across_api_objects_until_it_expires(
    api: NumistaApi, numista_emulator: NumistaEmulator, engine: Engine, vault: Vault, connected: User
) -> None:
    api.list_collections()
    settings = numista_settings(numista_emulator.base_url)
    with NumistaApi(settings, engine, vault, connected.id) as later:  # e.g. the worker, another process
        assert later.token().renewed is False
        assert [c["name"] for c in later.list_collections()] == ["Euro coins", "World coins"]
        second = later.test_connection()
    assert second.token_renewed is False
    assert _token_requests(numista_emulator) == 1


def test_short_lived_token_is_renewed_before_use_without_a_401(
    api: NumistaApi, numista_emulator: NumistaEmulator
) -> None:
    numista_emulator.faults.short_lived_tokens(1)
    api.list_collections()
    time.sleep(1.2)
    api.list_collections()
    assert _token_requests(numista_emulator) == 2
    # renewed proactively: each list call reached Numista exactly once (no 401 and retry)
    assert len(numista_emulator.requests_to("/v3/users/2104/collections")) == 2


def test_token_refused_with_401_is_renewed_once_and_the_call_repeated(
    api: NumistaApi, numista_emulator: NumistaEmulator
) -> None:
    api.list_collections()
    numista_emulator.faults.expire_tokens()  # our copy still looks valid; Numista says 401
    assert len(api.list_collections()) == 2
    assert _token_requests(numista_emulator) == 2
    assert len(numista_emulator.requests_to("/v3/users/2104/collections")) == 3


def test_a_second_401_after_renewal_is_an_auth_error_not_a_loop(
    api: NumistaApi, numista_emulator: NumistaEmulator
) -> None:
    api.list_collections()
    numista_emulator.faults.fail_next(5, 401, path="/v3/users/2104/collections")
    with pytest.raises(AuthError) as caught:
        api.list_collections()
    assert "refused access to your collection" in caught.value.message
    assert _token_requests(numista_emulator) == 2  # exactly one renewal
    assert len(numista_emulator.requests_to("/v3/users/2104/collections")) == 3


def test_invalid_key_gives_an_actionable_message_without_the_key(
    numista_emulator: NumistaEmulator, engine: Engine, session: Session, owner: User, vault: Vault
) -> None:
    wrong = "wrong-key-0123456789"
    save_secret(session, vault, owner.id, "numista", wrong)
    session.commit()
    with NumistaApi(numista_settings(numista_emulator.base_url), engine, vault, owner.id) as api:
        with pytest.raises(AuthError) as caught:
            api.test_connection()
        with pytest.raises(AuthError) as caught_search:
            api.search_types("victoria")
    for error in (caught.value, caught_search.value):
        assert "did not accept your API key" in error.message
        assert wrong not in str(error) and wrong not in repr(error) and wrong not in (error.url or "")


def test_key_without_a_user_explains_it(
    numista_emulator: NumistaEmulator, engine: Engine, session: Session, owner: User, vault: Vault
) -> None:
    save_secret(session, vault, owner.id, "numista", NO_USER_API_KEY)
    session.commit()
    settings = numista_settings(numista_emulator.base_url)
    with NumistaApi(settings, engine, vault, owner.id) as api, pytest.raises(AuthError) as caught:
        api.list_collections()
    assert caught.value.status == 501 and "no Numista user behind it" in caught.value.message


def test_not_connected_says_where_to_add_the_key(
    numista_emulator: NumistaEmulator, engine: Engine, session: Session, owner: User, vault: Vault
) -> None:
    session.commit()
    settings = numista_settings(numista_emulator.base_url)
    with NumistaApi(settings, engine, vault, owner.id) as api, pytest.raises(NumistaNotConnected) as caught:
        api.search_types("victoria")
    assert "Connections page" in caught.value.message
    assert numista_emulator.requests == []


def test_network_failure_message(engine: Engine, vault: Vault, connected: User, emulator_factory) -> None:  # type: ignore[no-untyped-def]
    gone = emulator_factory(NumistaEmulator)
    url = gone.base_url
    gone.stop()  # nothing listens on that port any more
    with NumistaApi(numista_settings(url), engine, vault, connected.id) as api:
        with pytest.raises(ServiceUnavailableError) as caught:
            api.test_connection()
        assert api.quota().used == 0  # nothing reached Numista, nothing counted
    assert caught.value.message.startswith("Could not reach Numista: network failure")
    assert DEMO_API_KEY not in str(caught.value)


def test_server_quota_exhaustion_stops_calls_for_the_month(
    api: NumistaApi, numista_emulator: NumistaEmulator
) -> None:
    api.search_types("victoria")
    numista_emulator.faults.exhaust_quota()
    with pytest.raises(QuotaExceededError) as caught:
        api.search_types("euro")
    assert "quota" in caught.value.message and "used up" in caught.value.message
    status = api.quota()
    assert status.exhausted and status.used == 2 and status.remaining == 0
    sent = len(numista_emulator.requests)
    with pytest.raises(QuotaExceededError):
        api.get_type(420)
    assert len(numista_emulator.requests) == sent  # refused locally: no call burnt on a known "exceeded"


def test_quota_words_win_over_an_unexpected_status(api: NumistaApi, numista_emulator: NumistaEmulator) -> None:
    numista_emulator.faults.fail_next(1, 403, body={"error_message": "Quota exceeded"}, path="/v3/types")
    with pytest.raises(QuotaExceededError):
        api.search_types("victoria")
    assert api.quota().exhausted


def test_local_monthly_limit_refuses_before_calling(
    numista_emulator: NumistaEmulator, engine: Engine, vault: Vault, connected: User
) -> None:
    with Session(engine) as session:
        quota_store.set_monthly_limit(session, connected.id, 3)
        session.commit()
    with NumistaApi(numista_settings(numista_emulator.base_url), engine, vault, connected.id) as api:
        api.search_types("victoria")
        api.get_type(420)
        api.get_issues(420)
        with pytest.raises(QuotaExceededError) as caught:
            api.get_prices(420, 4201, "EUR")
        assert "3 of your 3 calls" in caught.value.message
        assert api.quota().used == 3 == numista_emulator.quota_used()
    assert numista_emulator.requests_to("/v3/types/420/issues/4201/prices") == []


def test_counter_is_per_user_and_month_and_counts_retries(
    api: NumistaApi, numista_emulator: NumistaEmulator, engine: Engine, connected: User
) -> None:
    numista_emulator.faults.fail_next(1, 503, path="/v3/types/420")
    assert api.get_type(420)["title"] == "5 Cents - Victoria"  # retried once after the 503
    assert len(numista_emulator.requests_to("/v3/types/420")) == 2
    with Session(engine) as session:
        rows = session.scalars(select(NumistaQuotaUsage)).all()
        assert [(r.owner_id, r.month, r.calls) for r in rows] == [(connected.id, quota_store.current_month(), 2)]
    assert api.calls_made == 2


def test_calls_stay_counted_when_the_callers_transaction_rolls_back(
    numista_emulator: NumistaEmulator, engine: Engine, session: Session, connected: User, vault: Vault
) -> None:
    session.commit()
    with NumistaApi(numista_settings(numista_emulator.base_url), engine, vault, connected.id) as api:
        api.search_types("victoria")
        api.list_collections()
    session.rollback()  # whatever the caller's unit of work does, Numista counted these calls
    assert quota_store.quota_status(session, connected.id).used == 3


def test_collected_item_calls_for_the_push_engine(api: NumistaApi, numista_emulator: NumistaEmulator) -> None:
    created = api.create_collected_item({"type": 420, "issue": 4202, "grade": "vf", "collection": 1002})
    assert created["type"]["id"] == 420 and created["issue"]["id"] == 4202
    assert api.get_collected_item(created["id"])["grade"] == "vf"
    assert api.edit_collected_item(created["id"], {"grade": "xf", "price": None})["grade"] == "xf"
    listed = api.list_collected_items(type_id=420)
    assert sorted(i["id"] for i in listed["items"]) == sorted(
        i["id"] for i in numista_emulator.collected_items_for(DEMO_USER_ID) if i["type"]["id"] == 420
    )
    assert {i["collection"]["id"] for i in api.list_collected_items(collection_id=1001)["items"]} == {1001}
    assert api.delete_collected_item(created["id"]) is None
    with pytest.raises(NotFoundError):
        api.get_collected_item(created["id"])
    assert _token_requests(numista_emulator) == 1
    assert api.quota().used == numista_emulator.quota_used()


def test_secrets_never_in_the_database_file_exceptions_or_logs(
    numista_emulator: NumistaEmulator, tmp_path: Path, vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    from services.accounts import create_user
    from services.store.db import create_configured_engine, init_db, session_scope

    engine = create_configured_engine(f"sqlite:///{tmp_path / 'secrets.db'}")
    init_db(engine)
    with session_scope(engine) as session:
        owner_id = create_user(session, "ann", "correct horse battery").id
        save_secret(session, vault, owner_id, "numista", DEMO_API_KEY)
    caplog.set_level(logging.DEBUG)
    with NumistaApi(numista_settings(numista_emulator.base_url), engine, vault, owner_id) as api:
        api.test_connection()
        api.list_collections()
        numista_emulator.faults.fail_next(1, 400, path="/v3/users/2104/collected_items",
                                          body={"error_message": f"bad {DEMO_API_KEY}"})
        with pytest.raises(ServiceError) as caught:
            api.create_collected_item({"type": 420})
    tokens = [t.value for t in numista_emulator.state.tokens.values()]
    assert tokens, "a token was issued"
    engine.dispose()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("secrets.db*"))  # the file and its WAL
    for secret in (DEMO_API_KEY, *tokens):
        assert secret.encode() not in stored
        assert secret not in str(caught.value) and secret not in repr(caught.value)
        assert secret not in caplog.text
    assert "Numista said: bad" in caught.value.message  # the server's text is kept, the key cut out of it
