"""activities and their sign-ups

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-12 09:00:00.000000

Activities people sign up for (§五 of the plan), in a booked functional room or a place typed
by the organiser, and each person's sign-up: a place or the waiting list, in the order taken,
once per person.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
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


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("organiser_person_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("place", sa.String(length=200), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("scope_kind", _enum("scope_kind", *_SCOPE_KINDS), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("signup_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "attendance", _enum("activity_attendance", "none", "button", "code"), nullable=False
        ),
        sa.Column(
            "status",
            _enum("activity_status", "pending", "open", "cancelled", "ended"),
            nullable=False,
        ),
        sa.Column("positions", sa.Integer(), nullable=False),
        sa.Column("checkin_opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checkin_code", sa.String(length=16), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("summary_photo", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organiser_person_id"],
            ["people.id"],
            name=op.f("fk_activities_organiser_person_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["functional_rooms.id"],
            name=op.f("fk_activities_room_id_functional_rooms"),
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_activities_booking_id_bookings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index("ix_activities_status", ["status", "starts_at"], unique=False)
        batch_op.create_index(
            "ix_activities_organiser", ["organiser_person_id", "starts_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_activities_booking_id"), ["booking_id"], unique=False)

    op.create_table(
        "activity_signups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            _enum(
                "activity_signup_status",
                "signed_up",
                "waiting",
                "offered",
                "cancelled",
                "attended",
                "no_show",
            ),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_activity_signups_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_activity_signups_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_signups")),
        sa.UniqueConstraint(
            "activity_id", "person_id", name=op.f("uq_activity_signups_activity_id_person_id")
        ),
        sa.UniqueConstraint(
            "activity_id", "position", name=op.f("uq_activity_signups_activity_id_position")
        ),
    )
    with op.batch_alter_table("activity_signups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activity_signups_status", ["activity_id", "status", "position"], unique=False
        )
        batch_op.create_index("ix_activity_signups_person", ["person_id", "status"], unique=False)


def downgrade() -> None:
    op.drop_table("activity_signups")
    op.drop_table("activities")
