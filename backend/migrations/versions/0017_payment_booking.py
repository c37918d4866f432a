"""payments.kassenzeichen and payment_bank_credits: Kassenzeichen, camt.053 import (issue 16, 4)

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
    op.create_table(
        "payment_bank_credits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.String(length=64), nullable=False),
        sa.Column("statement_id", sa.String(length=35), nullable=False),
        sa.Column("booked_on", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("remittance", sa.String(length=140), nullable=False),
        sa.Column("kassenzeichen", sa.String(length=36), nullable=True),
        sa.Column("payment_id", sa.String(length=32), nullable=True),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("result", sa.String(length=24), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_key", name="uq_payment_bank_credits_entry"),
    )
    op.create_index(
        "ix_payment_bank_credits_department", "payment_bank_credits", ["department"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_payment_bank_credits_department", table_name="payment_bank_credits")
    op.drop_table("payment_bank_credits")
    op.drop_index("ix_payments_kassenzeichen", table_name="payments")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("kassenzeichen")
