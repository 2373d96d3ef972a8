"""sync: push-worker heartbeats, export preferences, per-item export options

Revision ID: 0004_sync
Revises: 0001
Create Date: 2026-11-21 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_sync"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_workers",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_workers")),
    )
    with op.batch_alter_table("sync_workers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_workers_heartbeat_at"), ["heartbeat_at"], unique=False)

    op.create_table(
        "sync_preferences",
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=20), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_sync_preferences_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("owner_id", "service", name=op.f("pk_sync_preferences")),
    )
    op.create_table(
        "sync_item_options",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=20), nullable=False),
        sa.Column("options", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_sync_item_options_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("item_id", "service", name=op.f("pk_sync_item_options")),
    )


def downgrade() -> None:
    op.drop_table("sync_item_options")
    op.drop_table("sync_preferences")
    with op.batch_alter_table("sync_workers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_workers_heartbeat_at"))
    op.drop_table("sync_workers")
