"""requests, bookings, projects and stars

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 18:57:16.556594
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "booking",
                "project",
                name="request_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("requester_person_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                "cancelled",
                name="request_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("stage_no", sa.Integer(), nullable=False),
        sa.Column(
            "approver_role",
            sa.Enum(
                "college_party_leader",
                "workstation_head",
                "counsellor",
                "building_manager",
                "building_leader",
                "floor_leader",
                "dorm_head",
                "grid_party_member",
                "org_department",
                "service_centre",
                "expert",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "approver_scope_kind",
            sa.Enum(
                "school",
                "college",
                "community",
                "building",
                "floor",
                "room",
                "grid",
                name="scope_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("approver_scope_id", sa.Integer(), nullable=True),
        sa.Column("routed_by", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["requester_person_id"],
            ["people.id"],
            name=op.f("fk_requests_requester_person_id_people"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests")),
    )
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_requests_approver",
            ["status", "approver_role", "approver_scope_kind", "approver_scope_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_requests_requester", ["requester_person_id", "created_at"], unique=False
        )

    op.create_table(
        "star_nominations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("nominator_person_id", sa.Integer(), nullable=False),
        sa.Column("nominee_person_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_star_nominations_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["nominator_person_id"],
            ["people.id"],
            name=op.f("fk_star_nominations_nominator_person_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["nominee_person_id"],
            ["people.id"],
            name=op.f("fk_star_nominations_nominee_person_id_people"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_star_nominations")),
        sa.UniqueConstraint(
            "month",
            "nominator_person_id",
            name=op.f("uq_star_nominations_month_nominator_person_id"),
        ),
    )
    with op.batch_alter_table("star_nominations", schema=None) as batch_op:
        batch_op.create_index("ix_star_nominations_month", ["month", "community_id"], unique=False)

    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "confirmed",
                "checked_in",
                "cancelled",
                "rejected",
                "released",
                name="booking_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("attendees", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("no_show", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_bookings_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_bookings_request_id_requests")
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["functional_rooms.id"], name=op.f("fk_bookings_room_id_functional_rooms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index("ix_bookings_due", ["status", "starts_at"], unique=False)
        batch_op.create_index("ix_bookings_person", ["person_id", "starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_bookings_request_id"), ["request_id"], unique=False)
        batch_op.create_index(
            "uq_bookings_room_slot",
            ["room_id", "starts_at"],
            unique=True,
            sqlite_where=sa.text("status IN ('pending', 'confirmed', 'checked_in')"),
            postgresql_where=sa.text("status IN ('pending', 'confirmed', 'checked_in')"),
        )
    if op.get_context().dialect.name == "postgresql":
        # Holding bookings of one room never overlap in time; gist needs btree_gist for "=".
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE bookings ADD CONSTRAINT ex_bookings_room_time EXCLUDE USING gist "
            "(room_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
            "WHERE (status IN ('pending', 'confirmed', 'checked_in'))"
        )

    op.create_table(
        "project_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("expert_person_id", sa.Integer(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("total", sa.Double(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expert_person_id"],
            ["people.id"],
            name=op.f("fk_project_scores_expert_person_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_project_scores_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_scores")),
        sa.UniqueConstraint(
            "request_id",
            "expert_person_id",
            name=op.f("uq_project_scores_request_id_expert_person_id"),
        ),
    )
    op.create_table(
        "request_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("stage_no", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_request_decisions_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_request_decisions_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_decisions")),
        sa.UniqueConstraint(
            "request_id", "stage_no", name=op.f("uq_request_decisions_request_id_stage_no")
        ),
    )
    op.create_table(
        "star_awards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("nomination_id", sa.Integer(), nullable=False),
        sa.Column("chosen_by_person_id", sa.Integer(), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chosen_by_person_id"],
            ["people.id"],
            name=op.f("fk_star_awards_chosen_by_person_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_star_awards_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["nomination_id"],
            ["star_nominations.id"],
            name=op.f("fk_star_awards_nomination_id_star_nominations"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_star_awards_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_star_awards")),
        sa.UniqueConstraint(
            "month", "community_id", name=op.f("uq_star_awards_month_community_id")
        ),
    )
    with op.batch_alter_table("star_awards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_star_awards_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("star_awards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_star_awards_person_id"))

    op.drop_table("star_awards")
    op.drop_table("request_decisions")
    op.drop_table("project_scores")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_bookings_room_slot",
            sqlite_where=sa.text("status IN ('pending', 'confirmed', 'checked_in')"),
            postgresql_where=sa.text("status IN ('pending', 'confirmed', 'checked_in')"),
        )
        batch_op.drop_index(batch_op.f("ix_bookings_request_id"))
        batch_op.drop_index("ix_bookings_person")
        batch_op.drop_index("ix_bookings_due")

    op.drop_table("bookings")
    with op.batch_alter_table("star_nominations", schema=None) as batch_op:
        batch_op.drop_index("ix_star_nominations_month")

    op.drop_table("star_nominations")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_requester")
        batch_op.drop_index("ix_requests_approver")

    op.drop_table("requests")
