"""counter identity: evidence of how a walk-in citizen was identified (issue 14, item 13)

Revision ID: 0008_h14_13_counter_identity
Revises: 0007_merge
Create Date: 2026-12-03 08:45:00.000000

Nullable columns: drafts taken before the counter matched identities have no evidence.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_h14_13_counter_identity"
down_revision: str | Sequence[str] | None = "0007_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("identification", sa.String(length=32)),
    ("identified_at", sa.DateTime(timezone=True)),
    ("trust_level", sa.String(length=16)),
    ("id_document_kind", sa.String(length=32)),
    ("id_document_number", sa.String(length=20)),
    ("id_document_authority", sa.String(length=200)),
)


def upgrade() -> None:
    with op.batch_alter_table("assisted_applications", schema=None) as batch_op:
        for name, type_ in _COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assisted_applications", schema=None) as batch_op:
        for name, _type in reversed(_COLUMNS):
            batch_op.drop_column(name)
