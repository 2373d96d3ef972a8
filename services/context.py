"""What every entry point (page, CLI, worker) needs: settings, the migrated engine, the vault."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.config import DATA_DIR, Settings, load_settings, use_settings
from services.store.db import get_engine, session_scope

if TYPE_CHECKING:
    from services.accounts.vault import Vault


@dataclass
class AppContext:
    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        return get_engine(self.settings.database_url)

    @cached_property
    def vault(self) -> Vault:
        from services.accounts.vault import Vault, load_or_create_key  # cryptography: only commands that use tokens

        return Vault(load_or_create_key(self.settings.secret_key, DATA_DIR / "secret.key"))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.engine) as session:
            yield session


def open_context(overrides: Mapping[str, object] | None = None) -> AppContext:
    """Settings read and validated once (SettingsError names a malformed key), made the process's settings."""
    return AppContext(use_settings(load_settings(overrides)))


CommandResult = tuple[Any, str, int]
"""What a command-line handler returns: the JSON document, the human summary, the exit status."""
