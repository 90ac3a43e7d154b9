"""Two bookings that hold a room never overlap in time, whoever writes them and whatever the slot
lengths: the store refuses the second (an exclusion constraint on PostgreSQL, triggers on
SQLite), on insert and on update alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from assistant import directory
from assistant.domain import BookingStatus
from assistant.runner import DEMO_CAMPUS
from assistant.storage import repo
from assistant.storage.db import Database
from assistant.storage.models import Booking, FunctionalRoom

DAY = datetime(2026, 9, 2, tzinfo=UTC)
NOW = DAY - timedelta(days=1)


@pytest.fixture
async def places(db: Database) -> tuple[int, int, int]:
    """The demo campus: two rooms' ids and a person's id."""
    async with db.unit_of_work() as session:
        await directory.import_org(session, directory.load_org(DEMO_CAMPUS))
        rooms = (
            await session.scalars(
                select(FunctionalRoom.id).where(FunctionalRoom.code.in_(["GROWTH", "B1-READ"]))
            )
        ).all()
        person = await repo.person_by_number(session, "2023010001")
    assert len(rooms) == 2 and person is not None
    return rooms[0], rooms[1], person.id


def booking(
    room: int,
    person: int,
    start: int,
    hours: int,
    status: BookingStatus = BookingStatus.CONFIRMED,
) -> Booking:
    """A booking of ``room`` from ``start`` o'clock (UTC) for ``hours``."""
    starts = DAY + timedelta(hours=start)
    return Booking(
        room_id=room,
        person_id=person,
        starts_at=starts,
        ends_at=starts + timedelta(hours=hours),
        status=status,
        purpose="Study",
        attendees=1,
        created_at=NOW,
        updated_at=NOW,
        no_show=False,
    )


async def held(db: Database) -> list[tuple[int, int, BookingStatus]]:
    """(room, start hour, status) of every booking."""
    async with db.unit_of_work() as session:
        rows = await session.execute(
            select(Booking.room_id, Booking.starts_at, Booking.status).order_by(Booking.id)
        )
        return [(room, (starts - DAY).seconds // 3600, status) for room, starts, status in rows]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ((8, 2), (9, 1)),  # a shorter slot inside the end of a longer one
        ((9, 1), (8, 2)),  # a longer slot around a shorter one
        ((8, 2), (7, 2)),  # the same length, shifted by an hour
        ((8, 4), (9, 1)),  # wholly inside
        ((8, 2), (8, 1)),  # the same start
    ],
)
async def test_an_overlapping_holding_booking_is_refused(
    db: Database,
    places: tuple[int, int, int],
    first: tuple[int, int],
    second: tuple[int, int],
) -> None:
    room, _, person = places
    async with db.unit_of_work() as session:
        session.add(booking(room, person, *first))
    for status in (BookingStatus.CONFIRMED, BookingStatus.PENDING, BookingStatus.CHECKED_IN):
        with pytest.raises(IntegrityError):
            async with db.unit_of_work() as session:
                session.add(booking(room, person, *second, status=status))
    assert await held(db) == [(room, first[0], BookingStatus.CONFIRMED)]


async def test_adjacent_released_and_other_rooms_bookings_are_not_in_the_way(
    db: Database, places: tuple[int, int, int]
) -> None:
    room, other_room, person = places
    async with db.unit_of_work() as session:
        session.add(booking(room, person, 8, 2, BookingStatus.CANCELLED))
        session.add(booking(room, person, 9, 1, BookingStatus.RELEASED))
    async with db.unit_of_work() as session:
        session.add(booking(room, person, 8, 2))
    async with db.unit_of_work() as session:
        # Ranges are half-open: 08-10 and 10-12 meet without overlapping.
        session.add(booking(room, person, 10, 2))
        session.add(booking(other_room, person, 9, 1))
        # A booking nobody holds any more may overlap anything.
        session.add(booking(room, person, 9, 2, BookingStatus.REJECTED))
    assert await held(db) == [
        (room, 8, BookingStatus.CANCELLED),
        (room, 9, BookingStatus.RELEASED),
        (room, 8, BookingStatus.CONFIRMED),
        (room, 10, BookingStatus.CONFIRMED),
        (other_room, 9, BookingStatus.CONFIRMED),
        (room, 9, BookingStatus.REJECTED),
    ]


async def test_an_update_into_an_overlap_is_refused(
    db: Database, places: tuple[int, int, int]
) -> None:
    room, _, person = places
    async with db.unit_of_work() as session:
        session.add(booking(room, person, 8, 2))
        cancelled = booking(room, person, 9, 1, BookingStatus.CANCELLED)
        pending = booking(room, person, 12, 2, BookingStatus.PENDING)
        session.add_all([cancelled, pending])
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as session:
            again = await session.get(Booking, cancelled.id)
            assert again is not None
            again.status = BookingStatus.CONFIRMED
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as session:
            moved = await session.get(Booking, pending.id)
            assert moved is not None
            moved.starts_at = DAY + timedelta(hours=9)
    # A booking is never in its own way: confirming the pending one is fine.
    async with db.unit_of_work() as session:
        confirmed = await session.get(Booking, pending.id)
        assert confirmed is not None
        confirmed.status = BookingStatus.CONFIRMED
    assert await held(db) == [
        (room, 8, BookingStatus.CONFIRMED),
        (room, 9, BookingStatus.CANCELLED),
        (room, 12, BookingStatus.CONFIRMED),
    ]
