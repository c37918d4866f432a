"""merge the counter-identity and handover-state revisions into one line

Revision ID: 0009_merge_h14
Revises: 0008_h14_13_counter_identity, 0008_handover_state
Create Date: 2026-12-03 17:10:00.000000

Both were built in parallel on top of 0007_merge for issue 14; later revisions build on this one.
"""

from collections.abc import Sequence

revision: str = "0009_merge_h14"
down_revision: str | Sequence[str] | None = (
    "0008_h14_13_counter_identity",
    "0008_handover_state",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the merge only joins the history."""


def downgrade() -> None:
    """Nothing to undo."""
