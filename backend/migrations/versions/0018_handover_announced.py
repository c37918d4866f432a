"""handovers.announced_at: the submission was announced at the Submission API (issue 16, 3)

Revision ID: 0018_handover_announced
Revises: 0017_payment_booking
Create Date: 2026-12-05 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_handover_announced"
down_revision: str | Sequence[str] | None = "0017_payment_booking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("handovers") as batch:
        batch.add_column(sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("handovers") as batch:
        batch.drop_column("announced_at")
