"""api: members' REST API tokens (hashed), shared rate-limit counters, entries in list order

Revision ID: 0006_api_tokens
Revises: 0005_merge
Create Date: 2026-12-01 22:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_api_tokens"
down_revision: str | Sequence[str] | None = "0005_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_api_tokens_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_owner_id"), "api_tokens", ["owner_id"], unique=False)
    op.create_table(
        "api_rate_counters",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_api_rate_counters")),
    )
    op.create_index(op.f("ix_api_rate_counters_expires_at"), "api_rate_counters", ["expires_at"], unique=False)
    # Pages of a member's entries (REST API, Collection page) in list order without sorting 100k rows; it
    # replaces (owner_id, kind), its prefix, which the planner would otherwise keep choosing.
    op.create_index(
        op.f("ix_items_owner_id_kind_title_id"), "items", ["owner_id", "kind", "title", "id"], unique=False
    )
    op.drop_index("ix_items_owner_id_kind", table_name="items")


def downgrade() -> None:
    op.create_index("ix_items_owner_id_kind", "items", ["owner_id", "kind"], unique=False)
    op.drop_index(op.f("ix_items_owner_id_kind_title_id"), table_name="items")
    op.drop_index(op.f("ix_api_rate_counters_expires_at"), table_name="api_rate_counters")
    op.drop_table("api_rate_counters")
    op.drop_index(op.f("ix_api_tokens_owner_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
