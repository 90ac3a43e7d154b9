"""party organisation units

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-10 09:00:00.000000

The plan's party organisation in the directory: a community's student party branches and the
building sub-stations of its workstation, each over some of its buildings; the roles of their
heads and of the coordination group's offices; and the scope kinds ``branch`` and
``substation`` those heads hold their roles at.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLES = (
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
)
_NEW_ROLES = (
    "committee_secretary",
    "substation_head",
    "branch_secretary",
    "centre_head",
    "grid_group_leader",
    "logistics_security",
    "student_affairs",
    "publicity",
    "youth_league",
    "sports",
)
_SCOPE_KINDS = ("school", "college", "community", "building", "floor", "room", "grid")
_NEW_SCOPE_KINDS = ("branch", "substation")

# Each table's role and scope kind columns (CHECK constraints named after the enums).
_COLUMNS = {
    "role_assignments": ("role", "scope_kind"),
    "grid_issues": ("assignee_role", "assignee_scope_kind"),
    "requests": ("approver_role", "approver_scope_kind"),
    "group_chats": (None, "scope_kind"),
}


def _in(column: str, values: Sequence[str]) -> str:
    return "{} IN ({})".format(column, ", ".join(f"'{value}'" for value in values))


def _checks(roles: Sequence[str], scope_kinds: Sequence[str]) -> None:
    for table, (role, scope_kind) in _COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            if role is not None:
                batch.drop_constraint(op.f(f"ck_{table}_role"), type_="check")
                batch.create_check_constraint("role", _in(role, roles))
            batch.drop_constraint(op.f(f"ck_{table}_scope_kind"), type_="check")
            batch.create_check_constraint("scope_kind", _in(scope_kind, scope_kinds))


def _unit(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f(f"fk_{name}_community_id_communities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("code", name=op.f(f"uq_{name}_code")),
    )
    with op.batch_alter_table(name) as batch:
        batch.create_index(batch.f(f"ix_{name}_community_id"), ["community_id"], unique=False)


def upgrade() -> None:
    _unit("party_branches")
    _unit("substations")
    with op.batch_alter_table("buildings") as batch:
        batch.add_column(sa.Column("branch_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("substation_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_buildings_branch_id_party_branches"),
            "party_branches",
            ["branch_id"],
            ["id"],
        )
        batch.create_foreign_key(
            batch.f("fk_buildings_substation_id_substations"),
            "substations",
            ["substation_id"],
            ["id"],
        )
        batch.create_index(batch.f("ix_buildings_branch_id"), ["branch_id"], unique=False)
        batch.create_index(batch.f("ix_buildings_substation_id"), ["substation_id"], unique=False)
    _checks((*_ROLES, *_NEW_ROLES), (*_SCOPE_KINDS, *_NEW_SCOPE_KINDS))


def downgrade() -> None:
    # What only the new words can say goes with them.
    op.execute(
        "DELETE FROM role_assignments WHERE "
        f"{_in('role', _NEW_ROLES)} OR {_in('scope_kind', _NEW_SCOPE_KINDS)}"
    )
    _checks(_ROLES, _SCOPE_KINDS)
    with op.batch_alter_table("buildings") as batch:
        batch.drop_index(batch.f("ix_buildings_substation_id"))
        batch.drop_index(batch.f("ix_buildings_branch_id"))
        batch.drop_constraint(batch.f("fk_buildings_substation_id_substations"), type_="foreignkey")
        batch.drop_constraint(batch.f("fk_buildings_branch_id_party_branches"), type_="foreignkey")
        batch.drop_column("substation_id")
        batch.drop_column("branch_id")
    op.drop_table("substations")
    op.drop_table("party_branches")
