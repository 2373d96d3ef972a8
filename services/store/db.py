"""Engine and sessions. One engine per database URL per process; migrations run on first use.

Why the schema check is cheap: loading alembic and its environment (every model) costs more than most
commands. The heads are read from the revision files' own ``revision``/``down_revision`` lines and compared
with the ``alembic_version`` table in one query; alembic is imported only when they differ.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, CursorResult, Engine, Result, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from services.private_files import ensure_private_file

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_REVISION = re.compile(r"^revision\b[^=\n]*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\b[^=\n]*=\s*(\([^)]*\)|[\"'][^\"']*[\"']|None)", re.MULTILINE)
_QUOTED = re.compile(r"[\"']([^\"']+)[\"']")

_POOL_SIZE, _MAX_OVERFLOW = 10, 20
BUSY_TIMEOUT_MS = 30_000  # how long an SQLite connection waits for the one writer before giving up
_engines: dict[str, Engine] = {}
_migrated: set[str] = set()
_lock = threading.Lock()


def _enable_sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    """Foreign keys on (SQLite leaves them off) and WAL so the worker and the UI can read while writing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_configured_engine(url: str) -> Engine:
    """A new engine for URL, with the SQLite settings every Vitrine connection needs."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        pool: dict[str, int] = {}
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            ensure_private_file(Path(parsed.database))
            # The same pool as below (an in-memory database has one connection per thread instead): a connection
            # beyond the pool is closed when returned, and its successor pays the pragmas and prepares every
            # statement again (8 concurrent REST API clients kept doing so).
            pool = {"pool_size": _POOL_SIZE, "max_overflow": _MAX_OVERFLOW}
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
                               **pool)  # fmt: skip
        event.listen(engine, "connect", _enable_sqlite_pragmas)
        return engine
    # A club server runs every browser session's script in its own thread, plus its push worker: a pool of 10
    # (20 more under bursts) per process, recycled before idle connections are cut by servers or proxies.
    return create_engine(url, pool_pre_ping=True, pool_size=_POOL_SIZE, max_overflow=_MAX_OVERFLOW, pool_recycle=1800)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@cache
def migration_heads() -> frozenset[str]:
    """The newest revisions (those no other revision builds on), read from the revision files' text."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(text), _DOWN_REVISION.search(text)
        if revision is None or down is None:
            raise RuntimeError(f"{path.name}: no revision/down_revision line")  # a file alembic would reject
        revisions.add(revision.group(1))
        parents.update(_QUOTED.findall(down.group(1)))
    return frozenset(revisions - parents)


def schema_is_current(engine: Engine) -> bool:
    """True when the database records exactly the newest revisions (one query; False if it has no schema)."""
    try:
        with engine.connect() as connection:
            stored = set(connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
    except DBAPIError:  # no alembic_version table yet: a new database
        return False
    return stored == migration_heads()


def init_db(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent; one query when already current)."""
    if schema_is_current(engine):
        return
    from alembic import command

    with engine.begin() as connection:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")  # parallel branches until a merge revision joins them


def refresh_statistics(engine: Engine) -> None:
    """Give SQLite's query planner statistics of the tables (PostgreSQL keeps its own, by autovacuum).

    Without them SQLite guesses that an equality on an index's first column matches ten rows, so it reads a
    page's prices by scanning every item of the owner (index owner_id, kind) instead of fetching the page's 24
    ids by primary key: 10,000 index entries per request. ANALYZE sampling at most 400 rows per index takes a
    few milliseconds, once per process; it is skipped when another writer holds the database."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA busy_timeout=0")
        try:
            connection.exec_driver_sql("PRAGMA analysis_limit=400")
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
        except OperationalError:  # "database is locked": the next process start does it
            connection.rollback()
        finally:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def get_engine(url: str, *, migrate: bool = True) -> Engine:
    """The process-wide engine for URL, migrated on first use."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = create_configured_engine(url)
            _engines[url] = engine
        if migrate and url not in _migrated:
            init_db(engine)
            refresh_statistics(engine)
            _migrated.add(url)
        return engine


def dispose_engine(url: str) -> None:
    """Forget and close the engine for URL (tests, and after dropping a database)."""
    with _lock:
        engine = _engines.pop(url, None)
        _migrated.discard(url)
    if engine is not None:
        engine.dispose()


@contextmanager
def session_scope(bind: Engine | Connection) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error (on a connection: its transaction, which the
    connection's owner may follow with another).

    A plain Session, not a sessionmaker per call: each sessionmaker makes a new Session subclass whose event
    dispatch SQLAlchemy sets up afresh, which cost more than a short query (REST API requests, bench/api.py)."""
    session = Session(bind, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def without_jit(session: Session) -> Iterator[None]:
    """On PostgreSQL, its JIT compiler off for the statements run inside: a statement of many index seeks (the
    Overview's movers) is costed high enough to be compiled, and compiling took 2.3 s of a 4 s statement that
    runs in about 1 s without it. Set for the transaction and put back after, whatever the server's setting."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    before = session.execute(text("SELECT current_setting('jit')")).scalar()
    session.execute(text("SELECT set_config('jit', 'off', true)"))
    yield  # on an error the transaction is aborted and takes the local setting with it: nothing to put back
    session.execute(text("SELECT set_config('jit', :before, true)"), {"before": before})


def affected_rows(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched (the result of a DML statement is a CursorResult)."""
    return cast("CursorResult[Any]", result).rowcount
