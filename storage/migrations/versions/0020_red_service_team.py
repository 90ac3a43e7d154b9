"""red service team

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-12 09:00:00.000000

The Red Service Team (红色服务队, work plan item 6): a community's volunteers and their leader
hold roles of their own, and a student's request for help is a row that goes from offered to
taken to done (with the volunteer's hours), or lapses when nobody took it in time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLES = (
    "college_party_leader",
    "committee_secretary",
    "workstation_head",
    "counsellor",
    "substation_head",
    "branch_secretary",
    "centre_head",
    "building_manager",
    "building_leader",
    "floor_leader",
    "dorm_head",
    "grid_group_leader",
    "grid_party_member",
    "org_department",
    "logistics_security",
    "student_affairs",
    "publicity",
    "youth_league",
    "sports",
    "service_centre",
    "expert",
    "admin",
)
_NEW_ROLES = ("service_volunteer", "service_team_leader")

# Each table's role column (its CHECK constraint is named after the enum).
_ROLE_COLUMNS = {
    "role_assignments": "role",
    "grid_issues": "assignee_role",
    "requests": "approver_role",
}


def _in(column: str, values: Sequence[str]) -> str:
    return "{} IN ({})".format(column, ", ".join(f"'{value}'" for value in values))


def _checks(roles: Sequence[str]) -> None:
    for table, column in _ROLE_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_role"), type_="check")
            batch.create_check_constraint("role", _in(column, roles))


def upgrade() -> None:
    _checks((*_ROLES, *_NEW_ROLES))
    op.create_table(
        "service_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requester_person_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("place", sa.String(length=255), nullable=False),
        sa.Column("window", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "taken",
                "done",
                "lapsed",
                name="service_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("routed_by", sa.String(length=64), nullable=False),
        sa.Column("offered_to", sa.JSON(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("volunteer_person_id", sa.Integer(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hours", sa.Float(), nullable=True),
        sa.Column("thanks", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_service_requests_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["requester_person_id"],
            ["people.id"],
            name=op.f("fk_service_requests_requester_person_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_person_id"],
            ["people.id"],
            name=op.f("fk_service_requests_volunteer_person_id_people"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_requests")),
    )
    with op.batch_alter_table("service_requests") as batch:
        batch.create_index(
            "ix_service_requests_requester", ["requester_person_id", "created_at"], unique=False
        )
        batch.create_index("ix_service_requests_team", ["community_id", "status"], unique=False)
        batch.create_index(
            "ix_service_requests_volunteer", ["volunteer_person_id", "status"], unique=False
        )


def downgrade() -> None:
    op.drop_table("service_requests")
    # What only the new roles can say goes with them.
    op.execute(f"DELETE FROM role_assignments WHERE {_in('role', _NEW_ROLES)}")
    _checks(_ROLES)
