"""The same models and migrations on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.store.db import init_db, session_scope
from services.store.models import Item, SyncLedger, User
from services.store.registry import metadata

EXPECTED_TABLES = {table.name for table in metadata.sorted_tables}


def test_migrations_create_every_model_table(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert tables >= EXPECTED_TABLES
    assert "alembic_version" in tables


def test_migrating_twice_is_harmless(engine: Engine) -> None:
    init_db(engine)
    assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES


def test_the_cheap_schema_check_knows_alembics_heads(engine: Engine) -> None:
    """Start-up skips alembic when the stored revisions are the heads read from the revision files; those heads
    are alembic's own, and a database behind them (or without a schema) is migrated."""
    from alembic.script import ScriptDirectory

    from services.store.db import alembic_config, create_configured_engine, migration_heads, schema_is_current

    assert migration_heads() == set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
    assert schema_is_current(engine)
    with engine.begin() as connection:
        stored = list(connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
        connection.exec_driver_sql("DELETE FROM alembic_version")
        connection.exec_driver_sql("INSERT INTO alembic_version (version_num) VALUES ('0005_merge')")
    try:
        assert not schema_is_current(engine)
    finally:  # the PostgreSQL engine is shared by the session's tests
        with engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM alembic_version")
            for version in stored:
                connection.exec_driver_sql(f"INSERT INTO alembic_version (version_num) VALUES ('{version}')")
    assert schema_is_current(engine)
    assert not schema_is_current(create_configured_engine("sqlite://"))  # no schema at all


def test_migrations_match_models(engine: Engine) -> None:
    """Autogenerate finds nothing to do: the migration history and the models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert diff == []


def test_item_round_trip_keeps_every_field(session: Session, owner: User) -> None:
    item = Item(
        owner_id=owner.id, kind="coin", title="2 euro 2004 San Marino", quantity=2, grade="XF", grade_code="xf",
        year=-44, acquired_date=date(2020, 5, 1), acquired_price=Decimal("12.34"), acquired_currency="EUR",
        tags=["euro", "commemorative"], details={"material": "Cu-Ni", "weight": 8.5}, notes="ünïcödé ✓",
    )  # fmt: skip
    session.add(item)
    session.flush()
    session.expire_all()
    loaded = session.get(Item, item.id)
    assert loaded is not None
    assert (loaded.year, loaded.acquired_price, loaded.tags, loaded.details["weight"], loaded.notes) == (
        -44, Decimal("12.34"), ["euro", "commemorative"], 8.5, "ünïcödé ✓"
    )  # fmt: skip
    assert loaded.version == 1


def test_one_ledger_row_per_item_and_service(engine: Engine, owner: User, session: Session) -> None:
    item = Item(owner_id=owner.id, kind="coin", title="x")
    session.add(item)
    session.commit()
    with pytest.raises(IntegrityError), session_scope(engine) as other:
        other.add_all([SyncLedger(item_id=item.id, service="numista"), SyncLedger(item_id=item.id, service="numista")])
        other.flush()


def test_deleting_a_user_deletes_their_items(session: Session, owner: User) -> None:
    session.add(Item(owner_id=owner.id, kind="card", title="x"))
    session.flush()
    session.delete(owner)
    session.flush()
    assert session.scalars(select(Item)).all() == []
