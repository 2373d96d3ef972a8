"""Saving a Numista API key without ever losing a working one: the new key is tested first, then replaces.

Why: saving first and testing afterwards (what ``connect numista`` did) meant a mistyped key replaced a
working one, and the clean-up after Numista refused it removed the connection altogether; the token, the
Numista user and every push waiting for them went with it. Here a key Numista refuses changes nothing, and
when Numista cannot be reached a first key is saved unverified while a working key is kept.

Used by the command line (``connect numista``) and the Connections page.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.accounts import connections
from services.context import AppContext
from services.http import AuthError, ServiceError
from services.integrations.numista.api import SERVICE, ConnectionCheck, numista_api


@dataclass(frozen=True)
class KeyChange:
    """What became of a new key: verified and saved, saved unverified, or refused (the old key stays)."""

    saved: bool  # the new key is now the stored one
    kept_previous: bool  # not saved, and the working key stored before is still there
    check: ConnectionCheck | None = None  # what Numista said about the new key (None: not verified)
    error: ServiceError | None = None  # why it was not verified or not saved


def replace_key(context: AppContext, owner_id: int, key: str) -> KeyChange:
    """Check `key` with Numista (token + user: 2 calls of the monthly quota), then store it in place of the
    current key. Refused by Numista: nothing changes. Numista unreachable: saved unverified only when no
    working key is stored (none, or one the secret key can no longer decrypt). Runs its own transactions,
    so the caller must not hold an open write on the same database (SQLite)."""
    key = connections.clean_secret(SERVICE, key)
    with context.session() as session:
        working = connections.status(session, context.vault, owner_id, SERVICE).connected
    with numista_api(context, owner_id, candidate_key=key) as api:
        try:
            check = api.test_connection()
        except AuthError as error:
            return KeyChange(saved=False, kept_previous=working, error=error)
        except ServiceError as error:
            if working:
                return KeyChange(saved=False, kept_previous=True, error=error)
            with context.session() as session:
                connections.save_secret(session, context.vault, owner_id, SERVICE, key)
            return KeyChange(saved=True, kept_previous=False, error=error)
        api.save_candidate_key()
    return KeyChange(saved=True, kept_previous=False, check=check)
