"""A talk slot holds one talk: the store refuses a second booked, held or no-show talk in the
same slot, whoever writes it, while a cancelled one is no longer in the way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from assistant.domain import PersonStatus, TalkOrigin, TalkSlotStatus, TalkStatus
from assistant.storage.db import Database
from assistant.storage.models import Person, Talk, TalkSlot

NOW = datetime(2026, 9, 14, 2, 0, tzinfo=UTC)


@pytest.fixture
async def slot(db: Database) -> tuple[int, int, int, int]:
    """A slot of a teacher's, and two students: (slot, teacher, student, other student)."""
    async with db.unit_of_work() as session:
        people = [
            Person(number=number, name=number, status=status)
            for number, status in (
                ("T1", PersonStatus.TEACHER),
                ("S1", PersonStatus.STUDENT),
                ("S2", PersonStatus.STUDENT),
            )
        ]
        session.add_all(people)
        await session.flush()
        slot = TalkSlot(
            teacher_person_id=people[0].id,
            starts_at=NOW + timedelta(days=1),
            ends_at=NOW + timedelta(days=1, hours=1),
            status=TalkSlotStatus.OPEN,
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(slot)
        await session.flush()
        return slot.id, people[0].id, people[1].id, people[2].id


def talk(slot: int, teacher: int, student: int, status: TalkStatus) -> Talk:
    return Talk(
        slot_id=slot,
        teacher_person_id=teacher,
        student_person_id=student,
        origin=TalkOrigin.BOOKED,
        status=status,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize("status", [TalkStatus.BOOKED, TalkStatus.HELD, TalkStatus.NO_SHOW])
async def test_a_second_talk_in_a_held_slot_is_refused(
    db: Database, slot: tuple[int, int, int, int], status: TalkStatus
) -> None:
    slot_id, teacher, student, other = slot
    async with db.unit_of_work() as session:
        session.add(talk(slot_id, teacher, student, status))
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as session:
            session.add(talk(slot_id, teacher, other, TalkStatus.BOOKED))


async def test_a_cancelled_talk_leaves_its_slot_free(
    db: Database, slot: tuple[int, int, int, int]
) -> None:
    slot_id, teacher, student, other = slot
    async with db.unit_of_work() as session:
        session.add(talk(slot_id, teacher, student, TalkStatus.CANCELLED))
        session.add(talk(slot_id, teacher, student, TalkStatus.CANCELLED))
    async with db.unit_of_work() as session:
        session.add(talk(slot_id, teacher, other, TalkStatus.BOOKED))
