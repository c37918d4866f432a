"""engine: payments, webhook events, mailbox, notification mails, department tasks, notices

Revision ID: 0002_engine
Revises: 0001
Create Date: 2026-11-22 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_engine"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_ref", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("pay_url", sa.String(length=500), nullable=True),
        _ts("created_at"),
        _ts("remind_at"),
        _ts("due_at"),
        _ts("reminded_at", nullable=True),
        _ts("paid_at", nullable=True),
        _ts("closed_at", nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", name="uq_payments_case"),
        sa.UniqueConstraint("provider", "provider_ref", name="uq_payments_provider_ref"),
    )
    op.create_table(
        "payment_webhook_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("type", sa.String(length=48), nullable=False),
        sa.Column("provider_ref", sa.String(length=64), nullable=True),
        sa.Column("result", sa.String(length=24), nullable=False),
        _ts("received_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "event_id", name="uq_payment_webhook_event"),
    )
    op.create_table(
        "mailbox_messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("citizen_sub", sa.String(length=128), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_de", sa.String(length=200), nullable=False),
        sa.Column("subject_en", sa.String(length=200), nullable=False),
        sa.Column("body_de", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        _ts("created_at"),
        _ts("read_at", nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "key", name="uq_mailbox_case_key"),
    )
    with op.batch_alter_table("mailbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mailbox_citizen_created", ["citizen_sub", "created_at"], unique=False
        )
    op.create_table(
        "notification_addresses",
        sa.Column("citizen_sub", sa.String(length=128), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("citizen_sub"),
    )
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        _ts("created_at"),
        _ts("sent_at", nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["mailbox_messages.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", name="uq_email_outbox_message"),
    )
    op.create_table(
        "case_tasks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("statement", sa.Text(), nullable=True),
        sa.Column("legal_basis", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=160), nullable=False),
        _ts("created_at"),
        sa.Column("due_on", sa.Date(), nullable=True),
        _ts("closed_at", nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "key", name="uq_case_tasks_case_key"),
    )
    with op.batch_alter_table("case_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_tasks_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_case_tasks_department_status", ["department", "status"], unique=False
        )
    op.create_table(
        "notice_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        _ts("created_at"),
        _ts("retired_at", nullable=True),
        sa.PrimaryKeyConstraint("kid"),
    )
    op.create_table(
        "issued_notices",
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        _ts("created_at"),
        _ts("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"]),
        sa.PrimaryKeyConstraint("document_id"),
    )
    with op.batch_alter_table("issued_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_issued_notices_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_issued_notices_pdf_sha256"), ["pdf_sha256"], unique=False
        )


def downgrade() -> None:
    for table in (
        "issued_notices",
        "notice_keys",
        "case_tasks",
        "email_outbox",
        "notification_addresses",
        "mailbox_messages",
        "payment_webhook_events",
        "payments",
    ):
        op.drop_table(table)
