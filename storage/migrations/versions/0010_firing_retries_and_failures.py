"""firing retries and failures

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 10:00:00.000000

A firing whose handler fails is tried again later (``next_attempt_at``, with ``attempts`` and
``last_error`` kept) and after too many tries is ``failed``, as is a firing no handler knows;
until now both stayed pending and were picked again before anything else.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = ("pending", "fired", "skipped")


def _status_check(statuses: Sequence[str]) -> str:
    return "status IN ({})".format(", ".join(f"'{s}'" for s in statuses))


def upgrade() -> None:
    with op.batch_alter_table("firings") as batch:
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
    # A firing never tried is tried first at its due time.
    op.execute("UPDATE firings SET next_attempt_at = due_at")
    with op.batch_alter_table("firings") as batch:
        batch.alter_column(
            "next_attempt_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch.alter_column("attempts", existing_type=sa.Integer(), server_default=None)
        batch.drop_constraint(op.f("ck_firings_firing_status"), type_="check")
        batch.create_check_constraint("firing_status", _status_check((*_STATUSES, "failed")))
        batch.create_index("ix_firings_next", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    # Failed firings were pending before they could fail.
    op.execute("UPDATE firings SET status = 'pending' WHERE status = 'failed'")
    with op.batch_alter_table("firings") as batch:
        batch.drop_index("ix_firings_next")
        batch.drop_constraint(op.f("ck_firings_firing_status"), type_="check")
        batch.create_check_constraint("firing_status", _status_check(_STATUSES))
        batch.drop_column("last_error")
        batch.drop_column("attempts")
        batch.drop_column("next_attempt_at")
