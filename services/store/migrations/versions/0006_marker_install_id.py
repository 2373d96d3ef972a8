"""instance_settings: this installation's own facts, starting with its install id

The install id makes push markers unique per installation (services.sync.markers); it is generated here,
once, so every database has one from its first migration on.

Revision ID: 0006_marker_install_id
Revises: 0005_merge
Create Date: 2026-12-01 23:00:00
"""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0006_marker_install_id"
down_revision: str | Sequence[str] | None = "0005_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "instance_settings",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_instance_settings")),
    )
    # Same shape as services.sync.markers.new_install_id (a migration must not import application code).
    op.bulk_insert(table, [{"key": "install_id", "value": secrets.token_hex(6), "created_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("instance_settings")
