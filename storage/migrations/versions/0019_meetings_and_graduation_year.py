"""meetings and graduation year

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-12 09:00:00.000000

The meeting system (§七(一)): meetings the coordination group and the colleges' workstations,
sub-stations and building centres call, with their minutes; and the year each student
graduates (people.csv), for what the graduation period brings them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCOPE_KINDS = (
    "school",
    "college",
    "community",
    "building",
    "floor",
    "room",
    "grid",
    "branch",
    "substation",
)


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("graduation_year", sa.SmallInteger(), nullable=True))
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "scope_kind",
            sa.Enum(
                *_SCOPE_KINDS,
                name="scope_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("called_by_person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes_by_person_id", sa.Integer(), nullable=True),
        sa.Column("minutes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attendees", sa.Text(), nullable=True),
        sa.Column("decisions", sa.Text(), nullable=True),
        sa.Column("problems", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["called_by_person_id"],
            ["people.id"],
            name=op.f("fk_meetings_called_by_person_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["minutes_by_person_id"],
            ["people.id"],
            name=op.f("fk_meetings_minutes_by_person_id_people"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
    )
    with op.batch_alter_table("meetings") as batch:
        batch.create_index(
            batch.f("ix_meetings_called_by_person_id"), ["called_by_person_id"], unique=False
        )
        batch.create_index("ix_meetings_scope", ["scope_kind", "scope_id", "starts_at"])
        batch.create_index("ix_meetings_minutes_at", ["minutes_at"])


def downgrade() -> None:
    op.drop_table("meetings")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("graduation_year")
