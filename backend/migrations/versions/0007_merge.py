"""merge the console, insight, ops and security revisions into one line

Revision ID: 0007_merge
Revises: 0006_console, 0006_insight, 0006_ops, 0006_security
Create Date: 2026-11-22 08:30:00.000000

The four areas were built in parallel on top of 0005_merge; later revisions build on this one.
"""

from collections.abc import Sequence

revision: str = "0007_merge"
down_revision: str | Sequence[str] | None = (
    "0006_console",
    "0006_insight",
    "0006_ops",
    "0006_security",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the merge only joins the history."""


def downgrade() -> None:
    """Nothing to undo."""
