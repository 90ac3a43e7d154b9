"""grid issue notes and rounds

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 08:00:00.000000

A report keeps what people said about it on the way (why it is reopened, why it cannot be
resolved, why and where it was passed on), and counts its rounds: a reopened or passed-on report
climbs the chain afresh, with escalation firings of its new round.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("grid_issues") as batch:
        batch.add_column(sa.Column("notes", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("round", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("grid_issues") as batch:
        batch.drop_column("round")
        batch.drop_column("notes")
