"""inbox retry time

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 09:00:00.000000

An update whose handling failed is tried again after a delay that grows with each failure; the
time of its next try is kept with it, so that a restart keeps to the delay instead of trying it
again at once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_updates") as batch:
        batch.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox_updates") as batch:
        batch.drop_column("retry_at")
