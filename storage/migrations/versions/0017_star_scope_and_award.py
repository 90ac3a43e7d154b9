"""star scope and award

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-12 09:00:00.000000

The Star of the Month is one a month for the whole school, as the plan says (``star.scope`` in
rules/policies.yaml), or one a month for each community: an award names the scope it is the Star
of, and the unique key is the month and that scope. Stars picked before were each their
community's. The award given with the Star (what, on which day, by whom) is kept with it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("star_awards") as batch:
        batch.add_column(sa.Column("scope", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("scope_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("prize", sa.Text(), nullable=True))
        batch.add_column(sa.Column("presented_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("presented_by", sa.String(length=200), nullable=True))
    op.execute("UPDATE star_awards SET scope = 'community', scope_id = community_id")
    with op.batch_alter_table("star_awards") as batch:
        batch.alter_column("scope", existing_type=sa.String(length=32), nullable=False)
        batch.alter_column("scope_id", existing_type=sa.Integer(), nullable=False)
        batch.create_check_constraint("star_scope", "scope IN ('school', 'community')")
        batch.drop_constraint(batch.f("uq_star_awards_month_community_id"), type_="unique")
        batch.create_unique_constraint(
            batch.f("uq_star_awards_month_scope_scope_id"), ["month", "scope", "scope_id"]
        )


def downgrade() -> None:
    # A month's school-wide Star is the one Star of its community that month, as before.
    with op.batch_alter_table("star_awards") as batch:
        batch.drop_constraint(batch.f("uq_star_awards_month_scope_scope_id"), type_="unique")
        batch.create_unique_constraint(
            batch.f("uq_star_awards_month_community_id"), ["month", "community_id"]
        )
        batch.drop_constraint(batch.f("ck_star_awards_star_scope"), type_="check")
        batch.drop_column("presented_by")
        batch.drop_column("presented_on")
        batch.drop_column("prize")
        batch.drop_column("scope_id")
        batch.drop_column("scope")
