"""heart-to-heart talks

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-12 10:00:00.000000

Heart-to-heart talks (谈心谈话, §三 of the plan): the slots teachers publish, in a room of the
communities or online, and the talks students book in them or counsellors invite them to, with
the teacher's private note, a cancellation's reason, and whether the talk was held or the
student did not come. One talk holds a slot.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HOLDING = "status IN ('booked', 'held', 'no_show')"


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "talk_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("teacher_person_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("online", sa.String(length=200), nullable=True),
        sa.Column("status", _enum("talk_slot_status", "open", "withdrawn"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["functional_rooms.id"],
            name=op.f("fk_talk_slots_room_id_functional_rooms"),
        ),
        sa.ForeignKeyConstraint(
            ["teacher_person_id"],
            ["people.id"],
            name=op.f("fk_talk_slots_teacher_person_id_people"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talk_slots")),
        sa.UniqueConstraint(
            "teacher_person_id",
            "starts_at",
            name=op.f("uq_talk_slots_teacher_person_id_starts_at"),
        ),
    )
    with op.batch_alter_table("talk_slots", schema=None) as batch_op:
        batch_op.create_index("ix_talk_slots_open", ["status", "starts_at"], unique=False)

    op.create_table(
        "talks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("teacher_person_id", sa.Integer(), nullable=False),
        sa.Column("student_person_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("college_id", sa.Integer(), nullable=True),
        sa.Column("origin", _enum("talk_origin", "booked", "invited"), nullable=False),
        sa.Column(
            "status", _enum("talk_status", "booked", "held", "no_show", "cancelled"), nullable=False
        ),
        sa.Column("topic", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("noted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by_person_id", sa.Integer(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cancelled_by_person_id"],
            ["people.id"],
            name=op.f("fk_talks_cancelled_by_person_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["college_id"], ["colleges.id"], name=op.f("fk_talks_college_id_colleges")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_talks_community_id_communities")
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["talk_slots.id"], name=op.f("fk_talks_slot_id_talk_slots")
        ),
        sa.ForeignKeyConstraint(
            ["student_person_id"], ["people.id"], name=op.f("fk_talks_student_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["teacher_person_id"], ["people.id"], name=op.f("fk_talks_teacher_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talks")),
    )
    with op.batch_alter_table("talks", schema=None) as batch_op:
        batch_op.create_index("ix_talks_community", ["community_id", "status"], unique=False)
        batch_op.create_index("ix_talks_student", ["student_person_id", "status"], unique=False)
        batch_op.create_index("ix_talks_teacher", ["teacher_person_id", "status"], unique=False)
        batch_op.create_index(
            "uq_talks_slot",
            ["slot_id"],
            unique=True,
            sqlite_where=sa.text(_HOLDING),
            postgresql_where=sa.text(_HOLDING),
        )


def downgrade() -> None:
    with op.batch_alter_table("talks", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_talks_slot", sqlite_where=sa.text(_HOLDING), postgresql_where=sa.text(_HOLDING)
        )
        batch_op.drop_index("ix_talks_teacher")
        batch_op.drop_index("ix_talks_student")
        batch_op.drop_index("ix_talks_community")
    op.drop_table("talks")
    with op.batch_alter_table("talk_slots", schema=None) as batch_op:
        batch_op.drop_index("ix_talk_slots_open")
    op.drop_table("talk_slots")
