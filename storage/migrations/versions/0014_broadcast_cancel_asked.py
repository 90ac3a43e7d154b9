"""broadcast cancel asked

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 12:00:00.000000

Cancel on a broadcast's progress message only asks: while the sender has not answered, the
progress message keeps counting and shows the question with its two buttons.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("broadcasts") as batch:
        batch.add_column(
            sa.Column("cancel_asked", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_column("cancel_asked")
