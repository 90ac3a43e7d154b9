"""bookings never overlap on sqlite

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10 10:00:00.000000

PostgreSQL refuses overlapping holding bookings of a room with the exclusion constraint
ex_bookings_room_time; SQLite had only the unique slot start, so two slot lengths (a policy
giving some people shorter slots, a changed booking.slot_hours) let 08:00-10:00 and 09:00-10:00
both hold a room. These triggers refuse the same on SQLite, inside the statement that writes the
row and so under SQLite's write lock, for every writer, as the constraint does on PostgreSQL.
The error is a constraint error (SQLITE_CONSTRAINT_TRIGGER), which the driver raises as an
IntegrityError like any other.

SQLite drops a table's triggers with the table: a later batch migration of bookings (which
rebuilds the table) must create them again.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HOLDING = "status IN ('pending', 'confirmed', 'checked_in')"
# Half-open ranges, as tstzrange(starts_at, ends_at, '[)'): 08:00-10:00 and 10:00-12:00 meet
# without overlapping. Timestamps are stored as UTC text of one width, so text order is time
# order. The holding condition is written as the partial index uq_bookings_room_slot states it,
# so the look-up uses that index.
_REFUSE_OVERLAP = """
BEGIN
    SELECT RAISE(ABORT, 'ex_bookings_room_time (the room is held at that time)')
    WHERE EXISTS (
        SELECT 1 FROM bookings AS held
        WHERE held.room_id = NEW.room_id
          AND held.{holding}
          AND held.starts_at < NEW.ends_at
          AND held.ends_at > NEW.starts_at{other}
    );
END
"""


def upgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE TRIGGER tr_bookings_no_overlap_insert BEFORE INSERT ON bookings "
        f"WHEN NEW.{_HOLDING}" + _REFUSE_OVERLAP.format(holding=_HOLDING, other="")
    )
    # A row being updated is not in the way of itself.
    op.execute(
        "CREATE TRIGGER tr_bookings_no_overlap_update "
        "BEFORE UPDATE OF room_id, starts_at, ends_at, status ON bookings "
        f"WHEN NEW.{_HOLDING}"
        + _REFUSE_OVERLAP.format(holding=_HOLDING, other="\n          AND held.id <> NEW.id")
    )


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER tr_bookings_no_overlap_update")
    op.execute("DROP TRIGGER tr_bookings_no_overlap_insert")
