"""States are checked by the database: item kind and status, sync ledger, job and job-row states, catalogue
sync progress.

Values are written out here (not imported from services.states) so this migration keeps meaning what it
meant when the vocabularies change later. Unknown item statuses written before the check become 'unknown'.

Revision ID: 0006_state_checks
Revises: 0005_merge
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_state_checks"
down_revision: str | Sequence[str] | None = "0005_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ITEM_KINDS = ("coin", "record", "card")
ITEM_STATUSES = (
    "demo", "bidding", "ordered", "owned", "duplicate", "replacement", "sold", "wish", "sale", "missing", "pass",
    "unknown",
)  # fmt: skip
SYNC_STATUSES = ("NOT_SYNCED", "QUEUED", "SYNCED", "FAILED", "DUPLICATE")
JOB_STATUSES = ("queued", "running", "paused", "done", "done_with_errors", "cancelled")
ROW_STATUSES = ("queued", "retry", "running", "synced", "duplicate", "failed", "skipped", "cancelled")
CATALOG_SYNC_STATUSES = ("pending", "partial", "complete", "failed")

CHECKS = (
    ("items", "kind", ITEM_KINDS),
    ("items", "status", ITEM_STATUSES),
    ("sync_ledger", "status", SYNC_STATUSES),
    ("jobs", "status", JOB_STATUSES),
    ("job_items", "status", ROW_STATUSES),
    ("catalog_sync_state", "status", CATALOG_SYNC_STATUSES),
)


def _in(column: str, allowed: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in allowed)})"


def upgrade() -> None:
    items = sa.table("items", sa.column("status", sa.String))
    op.execute(items.update().where(items.c.status.not_in(ITEM_STATUSES)).values(status="unknown"))
    for table, column, allowed in CHECKS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_check_constraint(column, _in(column, allowed))


def downgrade() -> None:
    for table, column, _allowed in reversed(CHECKS):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
