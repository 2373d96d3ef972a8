"""Alembic environment: runs on the connection handed over by services.store.db.init_db."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from services.store.registry import metadata as target_metadata_all

config = context.config
target_metadata = target_metadata_all


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_from_config(config.get_section(config.config_ini_section) or {}, poolclass=pool.NullPool)
    with engine.begin() as new_connection:
        _run(new_connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
