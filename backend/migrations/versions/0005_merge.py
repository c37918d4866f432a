"""merge the engine, handover and portal branches into one line

Revision ID: 0005_merge
Revises: 0002_engine, 0003_handover, 0004_portal
Create Date: 2026-11-22 07:20:00.000000

The three areas were built in parallel, each with its own revision on top of 0001; from
here on new revisions build on this one (or on a later merge), so `alembic heads` is one.
"""

from collections.abc import Sequence

revision: str = "0005_merge"
down_revision: str | Sequence[str] | None = ("0002_engine", "0003_handover", "0004_portal")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the merge only joins the history."""


def downgrade() -> None:
    """Nothing to undo."""
