"""request lapse time

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 10:00:00.000000

A request nobody decides is nudged, then offered to the next holder up; a booking request must
get both before it lapses at the booking's start, so the request keeps that moment.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("lapses_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("lapses_at")
