"""Remembered answers (aggregate_memos) and the write counters that tell when one is out of date
(data_versions), raised by triggers on items, price_observations and latest_prices.

Triggers and not the writers: every write path (ORM flushes, Core executemany imports, catalogue syncs,
cascades from a deleted member, plain SQL) passes through them, and a counter commits or rolls back with the
write. SQLite counts per row (an update in place). PostgreSQL counts per statement (its transition tables give
the owners touched) and raises each counter once per transaction until a view reads the counters again
(services.memo.basis resets the transaction-local ``vitrine.raised`` setting): every update of a row leaves a
new row version that the same transaction cannot prune, so raising one counter for each of the 460,000
single-row statements of an executemany made each update slower than the last. A TRUNCATE, whose rows are
not told apart, raises the shared ``prices`` counter, which every memo's basis includes.

A later migration that rebuilds one of these tables on SQLite (op.batch_alter_table copies the table) drops
its triggers and must create them again: tests/test_memo.py fails if a write no longer raises a counter.

Revision ID: 0010_aggregate_memos
Revises: 0009_rate_slots
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_aggregate_memos"
down_revision: str | Sequence[str] | None = "0009_rate_slots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRICE_TABLES = ("price_observations", "latest_prices")
EVENTS = ("INSERT", "UPDATE", "DELETE")

SQLITE_RAISE = ("INSERT INTO data_versions (scope, version) SELECT {scope}, 1 WHERE {when} "
                "ON CONFLICT (scope) DO UPDATE SET version = version + 1;")  # fmt: skip
SQLITE_ITEM_SCOPES = {
    "INSERT": [("'items:' || NEW.owner_id", "1")],
    "UPDATE": [("'items:' || NEW.owner_id", "1"), ("'items:' || OLD.owner_id", "OLD.owner_id <> NEW.owner_id")],
    "DELETE": [("'items:' || OLD.owner_id", "1")],
}

POSTGRES_FUNCTIONS = """
CREATE FUNCTION vitrine_raise_versions(scopes text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    raised text := coalesce(current_setting('vitrine.raised', true), '');
    fresh text[];
BEGIN
    SELECT array_agg(DISTINCT scope ORDER BY scope) INTO fresh FROM unnest(scopes) AS scope
    WHERE position(',' || scope || ',' IN raised) = 0;
    IF fresh IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO data_versions (scope, version) SELECT scope, 1 FROM unnest(fresh) AS scope
    ON CONFLICT (scope) DO UPDATE SET version = data_versions.version + 1;
    PERFORM set_config('vitrine.raised', raised || ',' || array_to_string(fresh, ',') || ',', true);
END
$$;
CREATE FUNCTION vitrine_items_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM vitrine_raise_versions(ARRAY(SELECT 'items:' || owner_id FROM new_rows));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM vitrine_raise_versions(ARRAY(SELECT 'items:' || owner_id FROM new_rows
                                             UNION SELECT 'items:' || owner_id FROM old_rows));
    ELSE
        PERFORM vitrine_raise_versions(ARRAY(SELECT 'items:' || owner_id FROM old_rows));
    END IF;
    RETURN NULL;
END
$$;
CREATE FUNCTION vitrine_shared_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM vitrine_raise_versions(ARRAY['prices']);
    RETURN NULL;
END
$$;
"""
POSTGRES_TRANSITION = {"INSERT": "NEW TABLE AS new_rows", "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                       "DELETE": "OLD TABLE AS old_rows"}  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "data_versions",
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("version", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_data_versions")),
    )
    op.create_table(
        "aggregate_memos",
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_aggregate_memos_owner_id_users"), ondelete="CASCADE"
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("owner_id", "answer", "currency", name=op.f("pk_aggregate_memos")),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    for event, scopes in SQLITE_ITEM_SCOPES.items():
        body = " ".join(SQLITE_RAISE.format(scope=scope, when=when) for scope, when in scopes)
        op.execute(f"CREATE TRIGGER items_{event.lower()}_version AFTER {event} ON items BEGIN {body} END")
    shared = SQLITE_RAISE.format(scope="'prices'", when="1")
    for table in PRICE_TABLES:
        for event in EVENTS:
            op.execute(f"CREATE TRIGGER {table}_{event.lower()}_version AFTER {event} ON {table} BEGIN {shared} END")


def _postgres_triggers() -> None:
    op.execute(POSTGRES_FUNCTIONS)
    for event, transition in POSTGRES_TRANSITION.items():
        op.execute(f"CREATE TRIGGER items_{event.lower()}_version AFTER {event} ON items "
                   f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION vitrine_items_changed()")  # fmt: skip
    op.execute("CREATE TRIGGER items_truncate_version AFTER TRUNCATE ON items "
               "FOR EACH STATEMENT EXECUTE FUNCTION vitrine_shared_changed()")  # fmt: skip
    for table in PRICE_TABLES:
        op.execute(f"CREATE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION vitrine_shared_changed()")  # fmt: skip


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for event in (*EVENTS, "TRUNCATE"):
            op.execute(f"DROP TRIGGER items_{event.lower()}_version ON items")
        for table in PRICE_TABLES:
            op.execute(f"DROP TRIGGER {table}_version ON {table}")
        op.execute("DROP FUNCTION vitrine_items_changed(), vitrine_shared_changed(), vitrine_raise_versions(text[])")
    else:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER items_{event.lower()}_version")
            for table in PRICE_TABLES:
                op.execute(f"DROP TRIGGER {table}_{event.lower()}_version")
    op.drop_table("aggregate_memos")
    op.drop_table("data_versions")
