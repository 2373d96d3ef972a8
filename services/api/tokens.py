"""Members' REST API tokens: create (the secret is returned once), list, revoke, and resolve a bearer token.

A token is `vt_` + 43 URL-safe characters (256 random bits). Only its SHA-256 digest is stored, so a leaked
database does not leak working tokens, and a lookup is one indexed read.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from services.errors import InvalidInput, NotFound
from services.store.models import User, utcnow
from services.store.models_api import ApiToken

TOKEN_PREFIX = "vt_"
MAX_NAME_LENGTH = 80
_LAST_USED_RESOLUTION = timedelta(minutes=1)  # at most one write per token per minute on the request path


@dataclass(frozen=True)
class NewToken:
    """A freshly created token: `token` is the only time the secret exists outside the caller's hands."""

    id: int
    name: str
    token: str

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "token": self.token}


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "createdAt": self.created_at.isoformat(),
            "lastUsedAt": self.last_used_at.isoformat() if self.last_used_at else None,
        }


@dataclass(frozen=True)
class TokenOwner:
    """Who a presented token acts for."""

    token_id: int
    user_id: int
    username: str
    currency: str


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, owner_id: int, name: str | None = None) -> NewToken:
    label = (name or "").strip() or f"token {utcnow():%Y-%m-%d %H:%M}"
    if len(label) > MAX_NAME_LENGTH:
        raise InvalidInput(f"A token name has at most {MAX_NAME_LENGTH} characters.", code="INVALID_NAME")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(owner_id=owner_id, name=label, token_hash=digest(token), prefix=token[:10])
    session.add(row)
    session.flush()
    return NewToken(row.id, row.name, token)


def list_tokens(session: Session, owner_id: int) -> list[TokenInfo]:
    """The owner's active tokens, newest first (never the secret: only its first characters)."""
    rows = session.scalars(
        select(ApiToken)
        .where(ApiToken.owner_id == owner_id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.id.desc())
    )
    return [TokenInfo(r.id, r.name, r.prefix, r.created_at, r.last_used_at) for r in rows]


def revoke_token(session: Session, owner_id: int, token_id: int) -> None:
    row = session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.owner_id == owner_id, ApiToken.revoked_at.is_(None))
    )
    if row is None:
        raise NotFound(f"You have no active API token {token_id}.", code="TOKEN_NOT_FOUND")
    row.revoked_at = utcnow()
    session.flush()


# Built once, and run on the session's connection (no ORM result machinery): on the request path, constructing
# the statement cost more than running it.
_ACTIVE_BY_DIGEST = (
    select(ApiToken.id, ApiToken.last_used_at, User.id, User.username, User.currency)
    .join(User, User.id == ApiToken.owner_id)
    .where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None), User.active.is_(True))
)


def resolve_token(session: Session, token: str) -> TokenOwner | None:
    """The active member behind a bearer token, or None (unknown, revoked, or member disabled)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.connection().execute(_ACTIVE_BY_DIGEST, {"digest": digest(token)}).first()
    if row is None:
        return None
    token_id, last_used, user_id, username, currency = row
    now = utcnow()
    if last_used is None or last_used < now - _LAST_USED_RESOLUTION:
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    return TokenOwner(token_id, user_id, username, currency or "EUR")
