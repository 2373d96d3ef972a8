"""Price observations indexed by their whole series key, then date, carrying currency and value: value
history and movers read a series' observations from the index alone (one range per item, no table lookups),
instead of every observation of the reference filtered afterwards. It replaces the (ref_kind, ref_id, source,
observed_at) index, whose readers (by reference and source, newest first) the new one serves as well.

Revision ID: 0008_scale_value
Revises: 0007_merge
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_scale_value"
down_revision: str | Sequence[str] | None = "0007_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIES = ["ref_kind", "ref_id", "source", "variant", "metric", "observed_at", "currency", "value"]


def upgrade() -> None:
    with op.batch_alter_table("price_observations", schema=None) as batch_op:
        batch_op.create_index("ix_price_observations_series", SERIES, unique=False)
        batch_op.drop_index("ix_price_observations_ref_kind_ref_id_source_observed_at")


def downgrade() -> None:
    with op.batch_alter_table("price_observations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_price_observations_ref_kind_ref_id_source_observed_at",
            ["ref_kind", "ref_id", "source", "observed_at"],
            unique=False,
        )
        batch_op.drop_index("ix_price_observations_series")
