"""cards: the printings TCGplayer lists for a card (its price-block keys), so an entry gets one it has

Revision ID: 0006_settings_card_printings
Revises: 0005_merge
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_settings_card_printings"
down_revision: str | Sequence[str] | None = "0005_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pokemon_cards") as batch_op:
        batch_op.add_column(sa.Column("printings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pokemon_cards") as batch_op:
        batch_op.drop_column("printings")
