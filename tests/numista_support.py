"""Shared set-up of the Numista tests: settings pointing at the emulator, a vault, a connected owner.

Why a module and not conftest.py: conftest is shared by every engineer; these helpers only concern the
tests/test_numista_*.py files, which import them explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.accounts.connections import save_secret
from services.accounts.vault import Vault
from services.config import Settings, load_settings
from services.http import reset_limiters
from services.integrations.numista.api import NumistaApi
from services.store.models import User
from tests.emulators.numista import DEMO_API_KEY, NumistaEmulator

__all__ = ["api", "connected", "numista_settings", "vault"]


def numista_settings(base_url: str, **extra: str) -> Settings:
    """Settings aimed at an emulator; a generous rate limit and short backoff so tests stay fast."""
    reset_limiters()
    values = {
        "NUMISTA_API_URL": base_url, "NUMISTA_RATE_LIMIT": "10000", "HTTP_MAX_RETRIES": "1",
        "HTTP_BACKOFF_BASE": "0.01", "HTTP_CONNECT_TIMEOUT": "2", "HTTP_TIMEOUT": "5", **extra,
    }  # fmt: skip
    return load_settings(values)


@pytest.fixture
def vault() -> Vault:
    return Vault(Fernet.generate_key())


@pytest.fixture
def connected(session: Session, owner: User, vault: Vault) -> User:
    """The owner with the demo Numista key saved, committed so engine-mode APIs see it."""
    save_secret(session, vault, owner.id, "numista", DEMO_API_KEY)
    session.commit()
    return owner


@pytest.fixture
def api(numista_emulator: NumistaEmulator, engine: Engine, vault: Vault, connected: User) -> Iterator[NumistaApi]:
    """The connected owner's API in engine mode (each token/counter write committed on its own)."""
    with NumistaApi(numista_settings(numista_emulator.base_url), engine, vault, connected.id) as numista:
        yield numista
