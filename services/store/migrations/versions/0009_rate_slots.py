"""One table of request slots for every rate-limited service (``rate_slots``, keyed by service), replacing
``discogs_rate_slots``: the Numista budget is shared by every process too. The old rows only counted requests
of the last minute, so they are dropped, not copied.

Revision ID: 0009_rate_slots
Revises: 0008_scale_value
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_rate_slots"
down_revision: str | Sequence[str] | None = "0008_scale_value"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_slots")),
    )
    with op.batch_alter_table("rate_slots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_slots_service_at"), ["service", "at"], unique=False)
    with op.batch_alter_table("discogs_rate_slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_discogs_rate_slots_at"))
    op.drop_table("discogs_rate_slots")


def downgrade() -> None:
    op.create_table(
        "discogs_rate_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discogs_rate_slots")),
    )
    with op.batch_alter_table("discogs_rate_slots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_discogs_rate_slots_at"), ["at"], unique=False)
    with op.batch_alter_table("rate_slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_slots_service_at"))
    op.drop_table("rate_slots")
