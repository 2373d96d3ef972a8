"""Connecting a member's Discogs account: OAuth 1.0a three-legged flow, or a personal access token.

The request token and its secret are kept server side between "Connect Discogs" and the callback (the
callback arrives in a new browser session), encrypted with the vault, bound to the member who asked,
used once and valid for 15 minutes (Discogs' own expiry). Access tokens do not expire; they are stored
encrypted per member and are never shown back, logged or put in an error.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from services.accounts import connections
from services.accounts.vault import Vault
from services.config import Settings
from services.errors import InvalidInput, NotFound
from services.http import AuthError, ServiceError, discogs_client, shared_limiter
from services.integrations.discogs.api import Credentials, DiscogsApi, Identity, oauth_auth
from services.states import CredentialKind, SyncService
from services.store.models import Connection, utcnow
from services.store.models_discogs import DiscogsRequestToken

SERVICE = SyncService.DISCOGS
REQUEST_TOKEN_TTL = timedelta(minutes=15)
OUT_OF_BAND = "oob"
REGISTER_URL = "https://www.discogs.com/settings/developers"


class DiscogsNotConnected(NotFound):
    code = "DISCOGS_NOT_CONNECTED"


@dataclass(frozen=True)
class PendingAuthorization:
    """Where to send the member, and the request token the callback (or the pasted verifier) completes."""

    authorize_url: str
    request_token: str

    def __repr__(self) -> str:
        return "PendingAuthorization(…)"


@dataclass(frozen=True)
class DiscogsConnection:
    """What the Connections page and `connect discogs` show: never a token."""

    username: str
    user_id: int
    kind: CredentialKind
    connected_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {"connected": True, "username": self.username, "userId": self.user_id, "kind": self.kind,
                "connectedAt": self.connected_at.isoformat() if self.connected_at else None}  # fmt: skip


def oauth_configured(settings: Settings) -> bool:
    return bool(settings.discogs_consumer_key and settings.discogs_consumer_secret)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _form(text: str) -> dict[str, str]:
    return dict(parse_qsl(text, keep_blank_values=True))


def _require_app(settings: Settings) -> None:
    if not oauth_configured(settings):
        raise InvalidInput(
            f"This server has no Discogs application: register one at {REGISTER_URL} and set "
            "DISCOGS_CONSUMER_KEY and DISCOGS_CONSUMER_SECRET, or connect with a personal access token.",
            code="DISCOGS_NOT_CONFIGURED",
        )


def start_authorization(
    session: Session, settings: Settings, vault: Vault, owner_id: int, callback: str = OUT_OF_BAND
) -> PendingAuthorization:
    """Step 1: a request token with our callback (or ``oob``: Discogs shows the verifier to paste)."""
    _require_app(settings)
    with discogs_client(settings) as client:
        response = client.post("/oauth/request_token", auth=oauth_auth(settings, redirect_uri=callback),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    data = _form(response.text)
    token, secret = data.get("oauth_token"), data.get("oauth_token_secret")
    if not token or not secret:
        raise ServiceError("Discogs did not return a request token.", service=SERVICE)
    now = utcnow()
    session.execute(delete(DiscogsRequestToken).where(DiscogsRequestToken.expires_at < now))
    session.add(DiscogsRequestToken(
        token_digest=_digest(token), owner_id=owner_id, created_at=now, expires_at=now + REQUEST_TOKEN_TTL,
        secret_encrypted=vault.encrypt(json.dumps({"token": token, "secret": secret})),
    ))  # fmt: skip
    session.flush()
    url = f"{settings.discogs_authorize_url}?{urlencode({'oauth_token': token})}"
    return PendingAuthorization(url, token)


def _take_request_token(session: Session, vault: Vault, owner_id: int, request_token: str) -> dict[str, str]:
    """The stored pair for this member's request token, marked used; a clear refusal otherwise."""
    row = session.get(DiscogsRequestToken, _digest(request_token or ""))
    if row is None or row.owner_id != owner_id:
        raise InvalidInput("This Discogs authorization is unknown here; start again with Connect Discogs.",
                           code="DISCOGS_UNKNOWN_TOKEN")  # fmt: skip
    if row.used_at is not None:
        raise InvalidInput("This Discogs authorization was already used; start again with Connect Discogs.",
                           code="DISCOGS_TOKEN_USED")  # fmt: skip
    if row.expires_at < utcnow():
        raise InvalidInput("This Discogs authorization expired (15 minutes); start again with Connect Discogs.",
                           code="DISCOGS_TOKEN_EXPIRED")  # fmt: skip
    row.used_at = utcnow()
    session.flush()
    return dict(json.loads(vault.decrypt(row.secret_encrypted)))


def finish_authorization(
    session: Session, settings: Settings, vault: Vault, owner_id: int, request_token: str, verifier: str
) -> DiscogsConnection:
    """Step 3: exchange the verifier for the access token, check it with /oauth/identity, store it."""
    _require_app(settings)
    verifier = (verifier or "").strip()
    if not verifier:
        raise InvalidInput("Paste the verification code Discogs showed you.", code="DISCOGS_VERIFIER_REQUIRED")
    pair = _take_request_token(session, vault, owner_id, request_token)
    auth = oauth_auth(settings, token=pair["token"], token_secret=pair["secret"], verifier=verifier)
    try:
        with discogs_client(settings) as client:
            response = client.post("/oauth/access_token", auth=auth,
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    except (AuthError, ServiceError) as error:
        raise InvalidInput(f"Discogs refused the authorization: {error.message}", code="DISCOGS_AUTH") from None
    data = _form(response.text)
    if not data.get("oauth_token") or not data.get("oauth_token_secret"):
        raise ServiceError("Discogs did not return an access token.", service=SERVICE)
    credentials = Credentials(CredentialKind.OAUTH, data["oauth_token"], data["oauth_token_secret"])
    return _store(session, settings, vault, owner_id, credentials)


def connect_personal_token(session: Session, settings: Settings, vault: Vault, owner_id: int,
                           token: str) -> DiscogsConnection:  # fmt: skip
    """A personal access token (Discogs settings → Developers → Generate new token), checked first."""
    token = (token or "").strip()
    if len(token) < 8:
        raise InvalidInput("That token looks too short; paste the whole personal access token.",
                           code="INVALID_KEY")  # fmt: skip
    return _store(session, settings, vault, owner_id, Credentials(CredentialKind.PERSONAL, token))


def _store(session: Session, settings: Settings, vault: Vault, owner_id: int,
           credentials: Credentials) -> DiscogsConnection:  # fmt: skip
    try:
        with DiscogsApi(settings, credentials) as api:
            identity = api.identity()
    except AuthError:
        raise InvalidInput("Discogs did not accept these credentials.", code="DISCOGS_AUTH") from None
    connection = session.scalar(
        select(Connection).where(Connection.owner_id == owner_id, Connection.service == SERVICE)
    ) or Connection(owner_id=owner_id, service=SERVICE)
    now = utcnow()
    connection.secret_encrypted = None
    connection.token_encrypted = vault.encrypt(json.dumps(
        {"kind": credentials.kind, "token": credentials.token, "secret": credentials.secret}))  # fmt: skip
    connection.remote_user = identity.username
    connection.settings = {"kind": credentials.kind, "userId": identity.user_id, "username": identity.username,
                           "connectedAt": now.isoformat()}  # fmt: skip
    connection.updated_at = now
    session.add(connection)
    session.flush()
    return _describe(connection)


def _describe(connection: Connection) -> DiscogsConnection:
    info = connection.settings or {}
    connected = info.get("connectedAt")
    return DiscogsConnection(
        username=str(info.get("username") or connection.remote_user or ""), user_id=int(info.get("userId") or 0),
        kind=CredentialKind(str(info.get("kind") or CredentialKind.OAUTH)),
        connected_at=datetime.fromisoformat(connected) if connected else None,
    )  # fmt: skip


def _row(session: Session, owner_id: int) -> Connection | None:
    row = session.scalar(select(Connection).where(Connection.owner_id == owner_id, Connection.service == SERVICE))
    return row if row is not None and row.token_encrypted is not None else None


def connection_info(session: Session, owner_id: int) -> DiscogsConnection | None:
    row = _row(session, owner_id)
    return _describe(row) if row is not None else None


def load_credentials(session: Session, vault: Vault, owner_id: int) -> Credentials:
    row = _row(session, owner_id)
    if row is None or row.token_encrypted is None:
        raise DiscogsNotConnected(
            "Discogs is not connected: run `python -m services connect discogs` (or use the Connections page).")
    data = json.loads(vault.decrypt(row.token_encrypted))
    return Credentials(CredentialKind(str(data["kind"])), str(data["token"]), data.get("secret"))


def disconnect(session: Session, owner_id: int) -> None:
    """Forget the member's Discogs tokens (and any request token still pending)."""
    connections.disconnect(session, owner_id, SERVICE)
    session.execute(delete(DiscogsRequestToken).where(DiscogsRequestToken.owner_id == owner_id))
    session.flush()


def member_api(session: Session, settings: Settings, vault: Vault, owner_id: int, **options: Any) -> DiscogsApi:
    """The member's signed client (raises DiscogsNotConnected), on the installation-wide request budget."""
    if "limiter" not in options and "client" not in options:
        bind = session.get_bind()
        options["limiter"] = shared_limiter(SERVICE.value, settings, bind if isinstance(bind, Engine) else bind.engine)
    api = DiscogsApi(settings, load_credentials(session, vault, owner_id), **options)
    info = connection_info(session, owner_id)
    if info is not None and info.username:
        api.username = info.username  # from /oauth/identity at connect time: no identity call per use
    return api


__all__ = ["DiscogsConnection", "DiscogsNotConnected", "Identity", "PendingAuthorization"]
