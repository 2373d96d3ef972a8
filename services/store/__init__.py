"""Storage: engine from DATABASE_URL, ORM models, alembic migrations, owner-scoped sessions."""

from services.store.db import get_engine, init_db, session_scope

__all__ = ["get_engine", "init_db", "session_scope"]
