"""What every entry point (page, CLI, worker) needs: settings, the migrated engine, the vault."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.accounts.vault import Vault, load_or_create_key
from services.config import DATA_DIR, Settings, load_settings
from services.store.db import get_engine, session_scope


@dataclass
class AppContext:
    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        return get_engine(self.settings.database_url)

    @cached_property
    def vault(self) -> Vault:
        return Vault(load_or_create_key(self.settings.secret_key, DATA_DIR / "secret.key"))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.engine) as session:
            yield session


def open_context(overrides: Mapping[str, object] | None = None) -> AppContext:
    return AppContext(load_settings(overrides))


CommandResult = tuple[Any, str, int]
"""What a command-line handler returns: the JSON document, the human summary, the exit status."""
