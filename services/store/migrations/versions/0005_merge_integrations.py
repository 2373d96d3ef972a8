"""Join the cards, Numista and sync branches into one head.

Revision ID: 0005_merge
Revises: 0002_cards, 0003_numista, 0004_sync
Create Date: 2026-11-21
"""

from collections.abc import Sequence

revision: str = "0005_merge"
down_revision: str | Sequence[str] | None = ("0002_cards", "0003_numista", "0004_sync")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
