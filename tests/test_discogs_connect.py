"""Connecting Discogs: the OAuth 1.0a dance against the emulator's real signature checks, request tokens
stored encrypted, bound to the member, single use and short-lived; personal tokens; nothing in clear text."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from services.accounts.vault import Vault
from services.errors import InvalidInput
from services.integrations.discogs import oauth
from services.store.models import User, utcnow
from services.store.models_discogs import DiscogsRequestToken
from tests.discogs_support import discogs_settings
from tests.emulators.discogs import PERSONAL_TOKEN, USER_AGENT, DiscogsEmulator

CALLBACK = "http://127.0.0.1:9/connections"


def _approve(url: str) -> dict[str, str]:
    """The browser's visit to Discogs' authorize page: the redirect back carries token and verifier."""
    answer = httpx.get(url, headers={"User-Agent": USER_AGENT})
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(CALLBACK)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _dump(session: Session) -> str:
    """Every text and binary value of the tables that hold credentials, as one string."""
    rows = [*session.execute(text("SELECT * FROM connections")), *session.execute(
        text("SELECT * FROM discogs_request_tokens"))]
    return " ".join(repr(tuple(row)) for row in rows)


def test_three_legged_flow_with_callback(session: Session, owner: User, discogs_emulator: DiscogsEmulator) -> None:
    settings, vault = discogs_settings(discogs_emulator), Vault(Fernet.generate_key())
    pending = oauth.start_authorization(session, settings, vault, owner.id, CALLBACK)
    assert pending.authorize_url.startswith(discogs_emulator.authorize_url + "?oauth_token=")
    back = _approve(pending.authorize_url)
    connection = oauth.finish_authorization(session, settings, vault, owner.id, back["oauth_token"],
                                            back["oauth_verifier"])
    assert (connection.username, connection.user_id, connection.kind) == ("example", 1, "oauth")
    assert oauth.connection_info(session, owner.id) == connection
    # the stored access token signs requests (the caller ends its unit of work before calling Discogs: the
    # shared request budget writes through connections of its own)
    session.commit()
    with oauth.member_api(session, settings, vault, owner.id) as api:
        assert api.identity().username == "example"
    # nothing secret in clear text: request token, its secret, the access token pair
    stored = _dump(session)
    credentials = oauth.load_credentials(session, vault, owner.id)
    for secret in (back["oauth_token"], credentials.token, credentials.secret or "", back["oauth_verifier"]):
        assert secret and secret not in stored
    assert "token" not in repr(credentials).lower().replace("credentials", "").replace("kind", "")


def test_request_token_is_single_use(session: Session, owner: User, discogs_emulator: DiscogsEmulator) -> None:
    settings, vault = discogs_settings(discogs_emulator), Vault(Fernet.generate_key())
    pending = oauth.start_authorization(session, settings, vault, owner.id, CALLBACK)
    back = _approve(pending.authorize_url)
    oauth.finish_authorization(session, settings, vault, owner.id, back["oauth_token"], back["oauth_verifier"])
    with pytest.raises(InvalidInput, match="already used"):
        oauth.finish_authorization(session, settings, vault, owner.id, back["oauth_token"], back["oauth_verifier"])


def test_unknown_foreign_and_expired_tokens_are_refused(
    session: Session, owner: User, other_owner: User, discogs_emulator: DiscogsEmulator
) -> None:
    settings, vault = discogs_settings(discogs_emulator), Vault(Fernet.generate_key())
    with pytest.raises(InvalidInput, match="unknown"):
        oauth.finish_authorization(session, settings, vault, owner.id, "no-such-token", "x")
    pending = oauth.start_authorization(session, settings, vault, owner.id, CALLBACK)
    back = _approve(pending.authorize_url)
    with pytest.raises(InvalidInput, match="unknown"):  # bound to the member who asked
        oauth.finish_authorization(session, settings, vault, other_owner.id, back["oauth_token"],
                                   back["oauth_verifier"])
    session.execute(update(DiscogsRequestToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    with pytest.raises(InvalidInput, match="expired"):
        oauth.finish_authorization(session, settings, vault, owner.id, back["oauth_token"], back["oauth_verifier"])
    assert oauth.connection_info(session, owner.id) is None


def test_wrong_verifier_is_refused_cleanly(session: Session, owner: User, discogs_emulator: DiscogsEmulator) -> None:
    settings, vault = discogs_settings(discogs_emulator), Vault(Fernet.generate_key())
    pending = oauth.start_authorization(session, settings, vault, owner.id)  # out of band
    discogs_emulator.approve(pending.request_token)
    with pytest.raises(InvalidInput, match="refused") as caught:
        oauth.finish_authorization(session, settings, vault, owner.id, pending.request_token, "wrong")
    assert pending.request_token not in caught.value.message


def test_personal_token_and_disconnect(engine: Engine, session: Session, owner: User,
                                       discogs_emulator: DiscogsEmulator) -> None:
    settings, vault = discogs_settings(discogs_emulator), Vault(Fernet.generate_key())
    with pytest.raises(InvalidInput):
        oauth.connect_personal_token(session, settings, vault, owner.id, "wrong-token-value")
    connection = oauth.connect_personal_token(session, settings, vault, owner.id, PERSONAL_TOKEN)
    assert (connection.username, connection.kind) == ("example", "personal")
    assert PERSONAL_TOKEN not in _dump(session)
    oauth.disconnect(session, owner.id)
    assert oauth.connection_info(session, owner.id) is None
    assert session.scalar(select(DiscogsRequestToken).where(DiscogsRequestToken.owner_id == owner.id)) is None


def test_without_an_application_the_flow_explains_registration(session: Session, owner: User,
                                                                discogs_emulator: DiscogsEmulator) -> None:
    settings = discogs_settings(discogs_emulator)
    from dataclasses import replace

    bare = replace(settings, discogs_consumer_key=None, discogs_consumer_secret=None)
    with pytest.raises(InvalidInput, match="personal access token"):
        oauth.start_authorization(session, bare, Vault(Fernet.generate_key()), owner.id)
