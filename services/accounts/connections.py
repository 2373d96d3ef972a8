"""A user's connections to remote services; secrets go through the vault and never come back in full."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.accounts.vault import Vault, VaultError, mask
from services.errors import InvalidInput
from services.store.models import Connection, utcnow

SERVICES = ("numista", "discogs", "pokemontcg")


@dataclass(frozen=True)
class ConnectionStatus:
    service: str
    connected: bool
    remote_user: str | None
    secret_hint: str | None
    token_expires_at: datetime | None
    updated_at: datetime | None
    unreadable: bool = False  # a key is stored but cannot be decrypted (the secret key changed): not connected


def _get(session: Session, owner_id: int, service: str) -> Connection | None:
    return session.scalar(
        select(Connection).where(Connection.owner_id == owner_id, Connection.service == service)
    )


def clean_secret(service: str, secret: str) -> str:
    """The key as it will be stored, or InvalidInput: checked before any service is asked about it."""
    if service not in SERVICES:
        raise InvalidInput(f"Unknown service {service!r}.", code="UNKNOWN_SERVICE")
    secret = secret.strip()
    if len(secret) < 8:
        raise InvalidInput("That key looks too short; paste the whole key.", code="INVALID_KEY")
    return secret


def save_secret(session: Session, vault: Vault, owner_id: int, service: str, secret: str) -> ConnectionStatus:
    """Store (or replace) the user's API key for a service, encrypted; any cached token is dropped. A service
    that can check a key first does so before calling this (Numista: services.integrations.numista.connect)."""
    secret = clean_secret(service, secret)
    connection = _get(session, owner_id, service) or Connection(owner_id=owner_id, service=service)
    connection.secret_encrypted = vault.encrypt(secret)
    connection.token_encrypted = None
    connection.token_expires_at = None
    connection.updated_at = utcnow()
    session.add(connection)
    session.flush()
    return status(session, vault, owner_id, service)


def has_secret(session: Session, owner_id: int, service: str) -> bool:
    """Whether a key is stored (readable or not: nothing is decrypted)."""
    connection = _get(session, owner_id, service)
    return connection is not None and connection.secret_encrypted is not None


def read_secret(session: Session, vault: Vault, owner_id: int, service: str) -> str | None:
    connection = _get(session, owner_id, service)
    if connection is None or connection.secret_encrypted is None:
        return None
    return vault.decrypt(connection.secret_encrypted)


def disconnect(session: Session, owner_id: int, service: str) -> None:
    connection = _get(session, owner_id, service)
    if connection is not None:
        session.delete(connection)
        session.flush()


def status(session: Session, vault: Vault, owner_id: int, service: str) -> ConnectionStatus:
    connection = _get(session, owner_id, service)
    if connection is None:
        return ConnectionStatus(service, False, None, None, None, None)
    try:
        secret = vault.decrypt(connection.secret_encrypted) if connection.secret_encrypted else None
    except VaultError:  # shown as such, so the user can restore the secret key or save the key again
        secret, unreadable = None, True
    else:
        unreadable = False
    return ConnectionStatus(
        service=service,
        connected=not unreadable and (secret is not None or connection.token_encrypted is not None),
        remote_user=connection.remote_user,
        secret_hint=mask(secret) if secret else None,
        token_expires_at=connection.token_expires_at,
        updated_at=connection.updated_at,
        unreadable=unreadable,
    )
