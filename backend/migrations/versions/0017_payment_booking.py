"""payments.kassenzeichen: the cash office's reference a fee is booked under (issue 16, item 4)

Revision ID: 0017_payment_booking
Revises: 0016_saved_filters
Create Date: 2026-12-04 23:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_payment_booking"
down_revision: str | Sequence[str] | None = "0016_saved_filters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("kassenzeichen", sa.String(length=36), nullable=True))
    op.create_index("ix_payments_kassenzeichen", "payments", ["kassenzeichen"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_payments_kassenzeichen", table_name="payments")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("kassenzeichen")
