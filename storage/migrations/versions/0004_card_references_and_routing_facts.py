"""card references and routing facts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 17:51:05.660018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("grid_issues", schema=None) as batch_op:
        # Reports made before this revision have no recorded facts: an empty mapping.
        batch_op.add_column(
            sa.Column("routing_subject", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ref", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_messages_ref"), ["ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_messages_ref"))
        batch_op.drop_column("ref")

    with op.batch_alter_table("grid_issues", schema=None) as batch_op:
        batch_op.drop_column("routing_subject")
