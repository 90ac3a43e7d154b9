"""conversations and grid issues

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 17:05:39.450660
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversation_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("conversation", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "done",
                "cancelled",
                "expired",
                name="conversation_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_conversation_states_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_states")),
    )
    with op.batch_alter_table("conversation_states", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversation_states_expiry", ["status", "expires_at"], unique=False
        )
        batch_op.create_index(
            "uq_conversation_states_active",
            ["person_id", "chat_id"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )

    op.create_table(
        "grid_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reporter_person_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.String(length=255), nullable=False),
        sa.Column("photo_file_id", sa.String(length=255), nullable=True),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("floor_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "acknowledged",
                "resolved",
                "not_resolvable",
                "not_ours",
                "duplicate",
                name="issue_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "assignee_role",
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
            nullable=False,
        ),
        sa.Column(
            "assignee_scope_kind",
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
            nullable=False,
        ),
        sa.Column("assignee_scope_id", sa.Integer(), nullable=False),
        sa.Column("routed_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["floor_id"], ["floors.id"], name=op.f("fk_grid_issues_floor_id_floors")
        ),
        sa.ForeignKeyConstraint(
            ["reporter_person_id"],
            ["people.id"],
            name=op.f("fk_grid_issues_reporter_person_id_people"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_issues")),
    )
    with op.batch_alter_table("grid_issues", schema=None) as batch_op:
        batch_op.create_index(
            "ix_grid_issues_assignee",
            ["assignee_scope_kind", "assignee_scope_id", "status"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_grid_issues_floor_id"), ["floor_id"], unique=False)
        batch_op.create_index(
            "ix_grid_issues_reporter", ["reporter_person_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("grid_issues", schema=None) as batch_op:
        batch_op.drop_index("ix_grid_issues_reporter")
        batch_op.drop_index(batch_op.f("ix_grid_issues_floor_id"))
        batch_op.drop_index("ix_grid_issues_assignee")

    op.drop_table("grid_issues")
    with op.batch_alter_table("conversation_states", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_conversation_states_active",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
        batch_op.drop_index("ix_conversation_states_expiry")

    op.drop_table("conversation_states")
