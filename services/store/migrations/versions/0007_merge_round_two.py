"""Join the branches of this round (API tokens, club accounts, Discogs, install id, card printings, state
checks) into one head.

Revision ID: 0007_merge
Revises: 0006_api_tokens, 0006_club_accounts, 0006_discogs, 0006_marker_install_id, 0006_settings_card_printings,
    0006_state_checks
Create Date: 2026-12-02
"""

from collections.abc import Sequence

revision: str = "0007_merge"
down_revision: str | Sequence[str] | None = (
    "0006_api_tokens",
    "0006_club_accounts",
    "0006_discogs",
    "0006_marker_install_id",
    "0006_settings_card_printings",
    "0006_state_checks",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
