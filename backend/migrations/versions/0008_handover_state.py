"""handover event log: order, outcome and the state the callback met (issue 14, item 2)

Revision ID: 0008_handover_state
Revises: 0007_merge
Create Date: 2026-12-03 08:20:00.000000

Callbacks recorded before this revision were all applied; they are numbered in the order of
their row ids, which is the order in which they were received.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_handover_state"
down_revision: str | Sequence[str] | None = "0007_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("handover_callbacks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("handover_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("ignored_reason", sa.String(length=200), nullable=True))
    op.execute(
        "UPDATE handover_callbacks SET sequence = (SELECT COUNT(*) FROM handover_callbacks AS h"
        " WHERE h.submission_id = handover_callbacks.submission_id"
        " AND h.id <= handover_callbacks.id), outcome = 'applied', handover_status = 'delivered'"
    )
    with op.batch_alter_table("handover_callbacks", schema=None) as batch_op:
        batch_op.alter_column("sequence", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("outcome", existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column("handover_status", existing_type=sa.String(length=16), nullable=False)
        batch_op.create_unique_constraint(
            "uq_handover_callbacks_sequence", ["submission_id", "sequence"]
        )


def downgrade() -> None:
    with op.batch_alter_table("handover_callbacks", schema=None) as batch_op:
        batch_op.drop_constraint("uq_handover_callbacks_sequence", type_="unique")
        batch_op.drop_column("ignored_reason")
        batch_op.drop_column("handover_status")
        batch_op.drop_column("outcome")
        batch_op.drop_column("sequence")
