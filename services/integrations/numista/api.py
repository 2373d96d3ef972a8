"""One user's Numista API v3: key from the vault, OAuth token kept encrypted, every call counted.

Why one object per user: every Numista call needs that user's API key (``Numista-API-Key`` header), the
collection calls also need a Bearer token obtained with that key, and every call, the token request
included, spends that user's monthly quota (2,000 on the free plan). This class is the only place that
sends Numista requests, so those three rules cannot be forgotten by the catalogue adapter, the pages, the
CLI or the push engine.

Usage (push engine, CLI, pages)::

    from services.integrations.numista.api import NumistaApi
    with NumistaApi(settings, engine, vault, owner_id) as api:
        api.user_id                                   # Numista user id, from the token response
        api.list_collections()                        # [{"id": 1001, "name": "Euro coins"}, ...]
        api.list_collected_items(type_id=420)         # {"item_count": .., "items": [collected_item, ...]}
        created = api.create_collected_item({"type": 420, "issue": 4201, "grade": "vf"})  # 201 -> item
        api.edit_collected_item(created["id"], {"grade": "xf"})                              # PATCH -> item
        api.delete_collected_item(created["id"])                                             # 204
        api.quota()                                   # QuotaStatus(used, limit, exhausted, ...)

Storage: pass an ``Engine`` and each token/counter write is its own short committed transaction (what a
worker wants: a call that was sent stays counted even if the caller's work rolls back); pass a ``Session``
and the writes join that session (flushed, committed by the caller), e.g. inside one CLI command.

Tokens: ``GET /oauth_token?grant_type=client_credentials&scope=view_collection,edit_collection``
(notes/numista.md §2.3); ``user_id`` comes from the answer. The token is stored Fernet-encrypted in the
user's ``connections`` row with ``token_expires_at`` = issue time + ``expires_in`` − a margin, reused until
then, renewed on demand, and renewed once more when a collection call answers 401.

Rate: every call takes a slot of the installation's Numista budget (``NUMISTA_RATE_LIMIT`` per
``NUMISTA_RATE_WINDOW``, ``NUMISTA_MAX_CONCURRENCY`` in flight), shared through the database (or Redis) with
every other server and worker, so adding processes never adds calls per minute (services.http.shared_ratelimit).

Errors are the typed errors of services.http with messages a user can act on:
``NumistaNotConnected`` (an AuthError: no key saved), ``AuthError`` (invalid key / no user behind it),
``QuotaExceededError`` (monthly quota used up: stop the whole batch; raised *before* calling once the limit
is reached or Numista said so this month), ``ServiceUnavailableError`` (network failure or 5xx),
``NotFoundError``, ``BadRequestError`` (``server_message`` says which field), ``RateLimitedError``.
No message ever contains the key or a token (the HTTP layer redacts, and ours never include them).
Note POST/PATCH are not retried on a 5xx or a dropped connection (services.http.retry): the server may have
acted, so the push engine must reconcile with ``list_collected_items(type_id=...)`` before trying again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from services.accounts import connections
from services.accounts.vault import Vault
from services.config import Settings
from services.http import (
    AuthError,
    QuotaExceededError,
    ServiceClient,
    ServiceError,
    ServiceUnavailableError,
    numista_client,
    shared_limiter,
)
from services.http.errors import is_quota_message
from services.integrations.numista import quota as quota_store
from services.integrations.numista.quota import QuotaStatus
from services.store.db import session_scope
from services.store.models import Connection, utcnow

QUOTA_RECHECK_SECONDS = 5.0

log = logging.getLogger("services.integrations.numista")

SERVICE = "numista"
SCOPES = ("view_collection", "edit_collection")
TOKEN_MARGIN = 60.0  # seconds a token is given up early, at most (coindex renews 60 s early)
TOKEN_MARGIN_SHARE = 0.1  # ... and at most this share of its lifetime (so a 1 s test token is still used)
LANGS = ("en", "es", "fr")
CONNECT_HINT = "Add your Numista API key on the Connections page (or: python -m services connect numista)."


class NumistaNotConnected(AuthError):
    """The user has saved no Numista API key."""


@dataclass(frozen=True)
class TokenInfo:
    """A usable access token (never shown: only its owner and validity leave this module)."""

    access_token: str
    user_id: int
    expires_at: datetime  # the moment we stop using it (Numista's expiry minus the margin)
    renewed: bool  # True when obtained by this call, False when reused from the vault

    def __repr__(self) -> str:
        return f"TokenInfo(user_id={self.user_id}, expires_at={self.expires_at.isoformat()}, renewed={self.renewed})"


@dataclass(frozen=True)
class ConnectionCheck:
    """What "Test connection" shows: who the key belongs to, token validity, this month's calls."""

    user_id: int
    username: str
    token_expires_at: datetime
    token_renewed: bool
    quota: QuotaStatus

    def to_json(self) -> dict[str, Any]:
        return {
            "userId": self.user_id, "username": self.username,
            "tokenExpiresAt": self.token_expires_at.isoformat(), "tokenRenewed": self.token_renewed,
            "quota": self.quota.to_json(),
        }  # fmt: skip




def _int(value: Any) -> int | None:
    """Numista ids and counts arrive as numbers or numeric strings (notes §3.1, §3.15)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class NumistaApi:
    """A per-user Numista v3 client. Thread-safe for token renewal; close() (or ``with``) when done."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        vault: Vault,
        owner_id: int,
        *,
        lang: str = "en",
        monthly_quota: int | None = None,
        transport: httpx.BaseTransport | None = None,
        candidate_key: str | None = None,
        **client_options: Any,
    ) -> None:
        """``monthly_quota`` overrides the user's stored limit; ``client_options`` go to numista_client
        (e.g. ``retry=RetryPolicy(max_retries=0)`` in tests). ``candidate_key``: a key to check before it
        replaces the stored one: used instead of it, and nothing of it (token, user) is stored until
        ``save_candidate_key`` (services.integrations.numista.connect)."""
        self.settings = settings
        self.owner_id = owner_id
        self.lang = lang if lang in LANGS else "en"
        self._engine = engine
        self._vault = vault
        self._monthly_quota = monthly_quota
        self._lock = threading.RLock()
        self._token: TokenInfo | None = None
        self._client: ServiceClient | None = None
        self._transport = transport
        self._client_options = client_options
        self.calls_made = 0  # requests this object sent (for "N calls used" summaries)
        self._bypass_quota = False  # test_connection: the user asked for one real check
        self._quota_seen: tuple[float, QuotaStatus] | None = None  # (monotonic time read, status) for _check_quota
        self._candidate_key = candidate_key
        self._candidate_user: str | None = None  # the username test_connection found for the candidate key

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the pooled HTTP connections (the token and counter are already stored)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> NumistaApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"NumistaApi(owner_id={self.owner_id}, base_url={self.settings.numista_api_url!r})"

    # -- storage ---------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A short committed transaction of its own, whatever the caller's unit of work does: a call Numista
        has counted (and a token it issued) stays recorded even if the caller rolls back. The catalogue cache
        writes through it too, so both never wait on each other."""
        with session_scope(self._engine) as session:
            yield session

    def _connection(self, session: Session) -> Connection | None:
        return session.scalar(
            select(Connection).where(Connection.owner_id == self.owner_id, Connection.service == SERVICE)
        )

    def _http(self) -> ServiceClient:
        """The HTTP client, built on first use with the user's key (read from the vault once)."""
        with self._lock:
            if self._client is None:
                api_key = self._candidate_key or self._stored_key()
                options = dict(self._client_options)
                if "limiter" not in options:  # the installation's budget, shared with every other process
                    options["limiter"] = shared_limiter(SERVICE, self.settings, self._engine)
                if self._transport is not None:
                    options["transport"] = self._transport
                client = numista_client(self.settings, api_key=api_key, **options)
                # Count every answer Numista gives, retries included: that is what its quota counts. A
                # response hook sees each attempt whatever transport or proxy mount httpx picks.
                client._http.event_hooks["response"].append(self._count_response)
                self._client = client
            return self._client

    def _stored_key(self) -> str:
        with self.transaction() as session:
            connection = self._connection(session)
            secret = connection.secret_encrypted if connection is not None else None
            if secret is None:
                raise NumistaNotConnected(f"Numista is not connected. {CONNECT_HINT}", service=SERVICE)
            return self._vault.decrypt(secret)

    def _count_response(self, _response: httpx.Response) -> None:
        self._count_call()

    def _count_call(self) -> None:
        self.calls_made += 1
        with self.transaction() as session:
            quota_store.record_calls(session, self.owner_id)
        seen = self._quota_seen
        if seen is not None:  # keep the cached status in step with our own calls
            self._quota_seen = (seen[0], replace(seen[1], used=seen[1].used + 1))

    # -- quota -----------------------------------------------------------------------------------
    def quota(self) -> QuotaStatus:
        """Calls counted this month for this user, their limit, and whether Numista said "exceeded"."""
        with self.transaction() as session:
            return quota_store.quota_status(session, self.owner_id, limit=self._monthly_quota)

    def _check_quota(self) -> None:
        """Refuse before sending when the month's calls are used up. The stored status is re-read every
        QUOTA_RECHECK_SECONDS (another process may spend calls too); in between our own calls are counted
        on the cached copy, which saves a database round trip per call in long pushes."""
        seen = self._quota_seen
        if seen is None or time.monotonic() - seen[0] > QUOTA_RECHECK_SECONDS:
            seen = (time.monotonic(), self.quota())
            self._quota_seen = seen
        status = seen[1]
        if status.exhausted:
            raise QuotaExceededError(self._quota_message(status, server=True), service=SERVICE, status=429)
        if status.used >= status.limit:
            raise QuotaExceededError(
                f"Vitrine stopped before calling Numista: {status.used} of your {status.limit} calls for "
                f"{status.month} are used. Calls resume on {status.resets_on.isoformat()}; raise the monthly "
                "limit on the Connections page if your Numista plan allows more.",
                service=SERVICE,
            )

    @staticmethod
    def _quota_message(status: QuotaStatus, *, server: bool) -> str:
        said = "Numista answered \"Quota exceeded\": " if server else ""
        return (
            f"{said}your Numista API quota for {status.month} is used up ({status.used} calls counted by Vitrine, "
            f"limit {status.limit}). Numista calls work again on {status.resets_on.isoformat()}; catalogue data "
            "and prices already fetched are still shown."
        )

    # -- tokens ----------------------------------------------------------------------------------
    def _stored_token(self) -> TokenInfo | None:
        if self._candidate_key is not None:  # the stored token belongs to the stored key
            return None
        with self.transaction() as session:
            connection = self._connection(session)
            if connection is None or connection.token_encrypted is None:
                return None
            expires_at = connection.token_expires_at
            user_id = _int((connection.settings or {}).get("user_id"))
            if expires_at is None or user_id is None or expires_at <= utcnow():
                return None
            return TokenInfo(self._vault.decrypt(connection.token_encrypted), user_id, expires_at, renewed=False)

    def token(self, *, force: bool = False) -> TokenInfo:
        """A usable token: the one in memory or in the vault while still valid, else a new one (1 call)."""
        with self._lock:
            now = utcnow()
            if not force:
                if self._token is not None and self._token.expires_at > now:
                    return self._token
                stored = self._stored_token()
                if stored is not None:
                    self._token = stored
                    return stored
            self._token = self._new_token()
            return self._token

    def _new_token(self) -> TokenInfo:
        body = self._send(
            "GET", "/oauth_token", params={"grant_type": "client_credentials", "scope": ",".join(SCOPES)},
            token_request=True,
        ).json()
        access_token = body.get("access_token") if isinstance(body, dict) else None
        user_id = _int(body.get("user_id")) if isinstance(body, dict) else None
        lifetime = float(_int(body.get("expires_in")) or 0) if isinstance(body, dict) else 0.0
        if not access_token or user_id is None or lifetime <= 0:
            raise ServiceError("Numista's token answer is incomplete; try again later.", service=SERVICE, status=200)
        margin = min(TOKEN_MARGIN, lifetime * TOKEN_MARGIN_SHARE)
        token = TokenInfo(access_token, user_id, utcnow() + timedelta(seconds=lifetime - margin), renewed=True)
        if self._candidate_key is None:  # a candidate's token is stored with the key, if the key is kept
            with self.transaction() as session:
                connection = self._connection(session)
                if connection is None:  # the key was removed meanwhile: keep nothing
                    raise NumistaNotConnected(f"Numista is not connected. {CONNECT_HINT}", service=SERVICE)
                self._store_token(connection, token)
        log.info("numista: new access token for owner %s (Numista user %s), valid %.0f s", self.owner_id,
                 user_id, lifetime)
        return token

    def _store_token(self, connection: Connection, token: TokenInfo) -> None:
        connection.token_encrypted = self._vault.encrypt(token.access_token)
        connection.token_expires_at = token.expires_at
        connection.settings = {**(connection.settings or {}), "user_id": token.user_id}

    def forget_token(self) -> None:
        """Drop the token (memory and vault), e.g. after Numista refused it."""
        with self._lock:
            self._token = None
            if self._candidate_key is not None:
                return
            with self.transaction() as session:
                connection = self._connection(session)
                if connection is not None:
                    connection.token_encrypted = None
                    connection.token_expires_at = None

    @property
    def user_id(self) -> int:
        """The Numista user behind the key (from the token answer; costs a call only without a token)."""
        return self.token().user_id

    # -- sending ---------------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        bearer: str | None = None,
        token_request: bool = False,
    ) -> httpx.Response:
        client = self._http()
        if not self._bypass_quota:
            self._check_quota()
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else None
        try:
            response = client.request(method, path, params=params, json=json, headers=headers)
        except ServiceError as error:
            raise self._user_facing(error, token_request=token_request, bearer=bearer is not None) from None
        if self._bypass_quota:
            self._quota_seen = None
            with self.transaction() as session:  # a call went through: Numista's "exceeded" no longer holds
                quota_store.clear_exhausted(session, self.owner_id)
        return response

    def _user_facing(self, error: ServiceError, *, token_request: bool, bearer: bool) -> ServiceError:
        """Same error class, with a message that says what happened and what to do."""
        said = f" Numista said: {error.server_message}" if error.server_message else ""
        message: str | None = None
        if error.status in (401, 403) and is_quota_message(error.server_message):
            # The status of a real "Quota exceeded" answer was never recorded (notes §5): trust the words.
            error = QuotaExceededError("", service=SERVICE, status=error.status, server_message=error.server_message)
        if isinstance(error, QuotaExceededError):
            self._quota_seen = None
            with self.transaction() as session:
                quota_store.mark_exhausted(session, self.owner_id)
            message = self._quota_message(self.quota(), server=True)
        elif isinstance(error, AuthError) and not bearer:
            message = (
                f"Numista did not accept your API key (HTTP {error.status}): it is invalid or was revoked. "
                f"Check the key on numista.com (My account → API) and save it again on the Connections page.{said}"
            )
        elif isinstance(error, AuthError):
            message = (
                f"Numista refused access to your collection (HTTP {error.status}) even with a new token; "
                f"check that the API key belongs to your Numista account.{said}"
            )
        elif token_request and error.status == 501:
            error = AuthError("", service=SERVICE, status=501, server_message=error.server_message)
            message = (
                "This Numista API key has no Numista user behind it, so Vitrine cannot reach a collection "
                f"with it (HTTP 501). Use the key from your own Numista account.{said}"
            )
        elif isinstance(error, ServiceUnavailableError) and error.status is None:
            message = (
                f"Could not reach Numista: network failure ({error.message}) Check the internet connection "
                "and try again later."
            )
        elif isinstance(error, ServiceUnavailableError):
            message = f"Numista is having trouble right now (HTTP {error.status}); try again later.{said}"
        if message is None:
            return error
        return type(error)(
            message, service=SERVICE, status=error.status, server_message=error.server_message,
            retry_after=error.retry_after, method=error.method, url=error.url, attempts=error.attempts,
        )  # fmt: skip

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """A catalogue/user call: API key only."""
        response = self._send("GET", path, params=params)
        try:
            return response.json()
        except ValueError:
            raise ServiceError("Numista answered with something that is not JSON.", service=SERVICE,
                               status=response.status_code) from None

    def _user_call(self, method: str, tail: str, *, params: dict[str, Any] | None = None, json: Any = None) -> Any:
        """A /users/{id}/... call with the Bearer token; one renewal and retry when Numista answers 401."""
        token = self.token()
        try:
            response = self._send(method, f"/users/{token.user_id}{tail}", params=params, json=json,
                                  bearer=token.access_token)
        except AuthError as error:
            if isinstance(error, NumistaNotConnected):
                raise
            log.info("numista: %s %s -> 401; renewing the token once", method, tail or "/")
            self.forget_token()
            token = self.token(force=True)
            response = self._send(method, f"/users/{token.user_id}{tail}", params=params, json=json,
                                  bearer=token.access_token)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ServiceError("Numista answered with something that is not JSON.", service=SERVICE,
                               status=response.status_code) from None

    # -- catalogue (API key only) ----------------------------------------------------------------
    def search_types(
        self,
        q: str | None = None,
        *,
        issuer: str | None = None,
        year: str | int | None = None,
        date: str | int | None = None,
        catalogue: int | None = None,
        number: str | None = None,
        category: str | None = None,
        page: int = 1,
        count: int = 50,
        lang: str | None = None,
    ) -> dict[str, Any]:
        """``GET /types``: ``{"count": total, "types": [summary, ...]}`` (one page, at most 50).

        ``issuer`` is Numista's issuer *code* (``canada``), ``year`` as written on the coin, ``date`` the
        Gregorian year; ``number`` only with ``catalogue`` (a catalogue id such as 3 = KM)."""
        params: dict[str, Any] = {"lang": lang or self.lang, "page": page, "count": max(1, min(count, 50))}
        for name, value in (("q", q), ("issuer", issuer), ("year", year), ("date", date),
                            ("catalogue", catalogue), ("category", category)):
            if value not in (None, ""):
                params[name] = value
        if number and catalogue is not None:
            params["number"] = number
        if not any(name in params for name in ("q", "issuer", "catalogue", "date", "year")):
            raise ValueError("search_types needs at least one of q, issuer, year, date or catalogue")
        data = self._get("/types", params)
        types = data.get("types") if isinstance(data, dict) else None
        return {"count": _int(data.get("count")) or 0 if isinstance(data, dict) else 0,
                "types": list(types) if isinstance(types, list) else []}

    def get_type(self, type_id: int, *, lang: str | None = None) -> dict[str, Any]:
        """``GET /types/{id}``: the full type (title, issuer, years, value, references, ...)."""
        return _object(self._get(f"/types/{int(type_id)}", {"lang": lang or self.lang}))

    def get_issues(self, type_id: int, *, lang: str | None = None) -> list[dict[str, Any]]:
        """``GET /types/{id}/issues``: a bare list of issues (years, mint letters, ids)."""
        data = self._get(f"/types/{int(type_id)}/issues", {"lang": lang or self.lang})
        return list(data) if isinstance(data, list) else []

    def get_prices(self, type_id: int, issue_id: int, currency: str, *, lang: str | None = None) -> dict[str, Any]:
        """``GET .../issues/{iid}/prices``: ``{"currency", "prices": [{"grade", "price"}]}``; empty = no estimate.
        The currency is always sent (Numista's default is not reliable, notes §3.4)."""
        params = {"currency": currency.upper(), "lang": lang or self.lang}
        data = self._get(f"/types/{int(type_id)}/issues/{int(issue_id)}/prices", params)
        prices = data.get("prices") if isinstance(data, dict) else None
        return {"currency": str(data.get("currency") or currency).upper() if isinstance(data, dict) else currency,
                "prices": list(prices) if isinstance(prices, list) else []}

    def list_issuers(self, *, lang: str | None = None) -> dict[str, Any]:
        """``GET /issuers``: ``{"count", "issuers": [{"code", "name", ...}]}`` (codes are French slugs)."""
        return _object(self._get("/issuers", {"lang": lang or self.lang}))

    def list_catalogues(self) -> dict[str, Any]:
        """``GET /catalogues``: ``{"count", "catalogues": [{"id", "code", "title", ...}]}`` (KM is id 3)."""
        return _object(self._get("/catalogues"))

    def get_user(self, user_id: int | None = None, *, lang: str | None = None) -> dict[str, Any]:
        """``GET /users/{id}``: ``{"username", "avatar"}`` (the key's own user by default)."""
        return _object(self._get(f"/users/{int(user_id if user_id is not None else self.user_id)}",
                         {"lang": lang or self.lang}))

    # -- the user's collection (Bearer token) ----------------------------------------------------
    def list_collections(self) -> list[dict[str, Any]]:
        """``GET /users/{id}/collections``: ``[{"id", "name"}]`` (empty if the user made none)."""
        data = self._user_call("GET", "/collections")
        collections = data.get("collections") if isinstance(data, dict) else None
        return list(collections) if isinstance(collections, list) else []

    def list_collected_items(
        self, *, type_id: int | None = None, collection_id: int | None = None, category: str | None = None
    ) -> dict[str, Any]:
        """``GET /users/{id}/collected_items`` (not paginated): ``{"item_count", ..., "items": [...]}``.
        Filter by ``type_id`` before a push to find an existing copy (one call per type)."""
        params = {name: value for name, value in (("type", type_id), ("collection", collection_id),
                                                  ("category", category)) if value is not None}
        data = self._user_call("GET", "/collected_items", params=params or None)
        if not isinstance(data, dict):
            return {"items": []}
        data["items"] = list(data.get("items") or [])
        return data

    def get_collected_item(self, item_id: int) -> dict[str, Any]:
        """``GET /users/{id}/collected_items/{item_id}``; NotFoundError if it is gone."""
        return _object(self._user_call("GET", f"/collected_items/{int(item_id)}"))

    def create_collected_item(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /users/{id}/collected_items`` (request shape: ``type`` required, ids as integers);
        returns the created item (201) whose ``id`` later PATCH/DELETE use. Never deduplicated by Numista."""
        return _object(self._user_call("POST", "/collected_items", json=body))

    def edit_collected_item(self, item_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """``PATCH /users/{id}/collected_items/{item_id}``: only present keys change; None clears
        issue/grade/price. Returns the whole updated item."""
        return _object(self._user_call("PATCH", f"/collected_items/{int(item_id)}", json=body))

    def delete_collected_item(self, item_id: int) -> None:
        """``DELETE /users/{id}/collected_items/{item_id}`` (204)."""
        self._user_call("DELETE", f"/collected_items/{int(item_id)}")

    # -- connection check ------------------------------------------------------------------------
    def test_connection(self) -> ConnectionCheck:
        """Check the key and the token for real: the token (reused if valid, else 1 call) and
        ``GET /users/{id}`` (1 call). Runs even after a "Quota exceeded" this month (the user asked), and
        clears that block when Numista answers. The username is kept as the connection's remote user."""
        with self._lock:
            self._http()
            self._bypass_quota = True
            try:
                token = self.token()
                data = self._send("GET", f"/users/{token.user_id}", params={"lang": self.lang}).json()
            finally:
                self._bypass_quota = False
            username = str(data.get("username") or token.user_id) if isinstance(data, dict) else str(token.user_id)
            if self._candidate_key is not None:
                self._candidate_user = username
            else:
                with self.transaction() as session:
                    connection = self._connection(session)
                    if connection is not None:
                        connection.remote_user = username[:200]
            return ConnectionCheck(token.user_id, username, token.expires_at, token.renewed, self.quota())

    def save_candidate_key(self) -> None:
        """Store the candidate key in place of the user's current one, with the token and username
        test_connection obtained for it; from then on this object uses the stored key as usual."""
        with self._lock:
            key = self._candidate_key
            if key is None or self._candidate_user is None:
                raise RuntimeError("save_candidate_key needs a candidate key that test_connection accepted")
            with self.transaction() as session:
                connections.save_secret(session, self._vault, self.owner_id, SERVICE, key)
                connection = self._connection(session)
                assert connection is not None
                connection.remote_user = self._candidate_user[:200]
                if self._token is not None:
                    self._store_token(connection, self._token)
            self._candidate_key = None


def _object(document: Any) -> dict[str, Any]:
    """A JSON object Numista answered with; anything else is a broken answer, not data."""
    if not isinstance(document, dict):
        raise ServiceError("Numista answered with an unexpected document (not a JSON object).", service=SERVICE)
    return document


def numista_api(context: Any, owner_id: int, **options: Any) -> NumistaApi:
    """A NumistaApi from an AppContext (settings, engine, vault)."""
    return NumistaApi(context.settings, context.engine, context.vault, owner_id, **options)
