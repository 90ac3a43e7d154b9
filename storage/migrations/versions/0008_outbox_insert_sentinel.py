"""outbox insert sentinel

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 09:30:00.000000

Several outbox rows queued by one update are inserted in one statement. SQLite cannot say which
new id belongs to which row of a multi-row INSERT ... RETURNING, so the rows carry their place
in the statement; without it each row was an INSERT of its own.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(sa.Column("insert_sentinel", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_column("insert_sentinel")
