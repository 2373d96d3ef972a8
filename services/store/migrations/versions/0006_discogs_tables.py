"""discogs: pending OAuth request tokens, export baselines, shared request budget

Revision ID: 0006_discogs
Revises: 0005_merge
Create Date: 2026-12-01 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_discogs"
down_revision: str | None = "0005_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "discogs_request_tokens",
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_discogs_request_tokens_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_digest", name=op.f("pk_discogs_request_tokens")),
    )
    with op.batch_alter_table("discogs_request_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_discogs_request_tokens_owner_id"), ["owner_id"], unique=False)
    op.create_table(
        "discogs_push_baselines",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("remote_ids", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_discogs_push_baselines_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "release_id", name=op.f("pk_discogs_push_baselines")),
    )
    op.create_table(
        "discogs_rate_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discogs_rate_slots")),
    )
    with op.batch_alter_table("discogs_rate_slots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_discogs_rate_slots_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("discogs_rate_slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_discogs_rate_slots_at"))
    op.drop_table("discogs_rate_slots")
    op.drop_table("discogs_push_baselines")
    with op.batch_alter_table("discogs_request_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_discogs_request_tokens_owner_id"))
    op.drop_table("discogs_request_tokens")
