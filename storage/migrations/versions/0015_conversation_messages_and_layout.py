"""conversation messages and layout

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 10:00:00.000000

A conversation remembers the messages of its own that still carry buttons, so that each loses
them (and shows the answer given) once the conversation moves on, and where each item of the
list it asks from stands, so that a redrawn list keeps every item in its place.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversation_states") as batch:
        batch.add_column(sa.Column("shown", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("layout", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("conversation_states") as batch:
        batch.drop_column("layout")
        batch.drop_column("shown")
