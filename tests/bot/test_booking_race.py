"""Many people after the same slot at the same moment: exactly one booking, and everyone else is
told it was just taken, never shown an error. Runs on SQLite and PostgreSQL alike, with slots of
one length and of two (teachers given one-hour slots inside the students' two-hour ones)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from assistant.app import Edge, load_files
from assistant.config import load_settings
from assistant.domain import Actor, BookingStatus, PersonStatus
from assistant.flows.engine import Refused
from assistant.sandbox import FakeTelegram
from assistant.services import identity
from assistant.services.booking import Bookings
from assistant.services.kit import Kit
from assistant.storage.db import Database
from assistant.storage.models import Booking, Person
from assistant.texts import Texts
from tests.bot.conftest import START, Chat
from tests.bot.test_booking import one_hour_for_teachers, to_summary
from tests.bot.test_identity import linked

Invite = Callable[[str], Awaitable[str]]
Person_ = Callable[..., Chat]

STUDENTS = ("2023010001", "2023010002", "2021010001", "2024010001", "2021010002", "2023010003")


async def everyone(db: Database) -> list[Actor]:
    """Every person of the demo campus, as the booking service sees the one acting."""
    async with db.unit_of_work() as session:
        people = (await session.scalars(select(Person).order_by(Person.id))).all()
        return [await identity.person_actor(session, p) for p in people]


def service(db: Database, rules: Path | None = None) -> Bookings:
    """The booking service on the shipped rules, or on ``rules``."""
    overrides = {} if rules is None else {"rules_dir": rules}
    settings = load_settings(database_url=db.url, **overrides)
    texts = Texts(settings.conversations_dir)
    files = load_files(settings, texts)
    return Bookings(Kit(files.rules, texts, settings.language, settings.tz, files.approvals))


async def race(db: Database, bookings: Bookings, wanted: Callable[[Actor], str]) -> Counter[str]:
    """Everyone tries to book Growth on 2 September at once, each at the slot ``wanted`` names;
    what each was told."""
    actors = await everyone(db)
    assert len(actors) == 205
    # Enough connections that the attempts really overlap in the database.
    racing = Database(db.url, pool_size=50, max_overflow=0, pool_timeout=60)
    go = asyncio.Event()

    async def attempt(actor: Actor) -> str:
        await go.wait()
        try:
            async with racing.unit_of_work() as session:
                await bookings.create(
                    session,
                    actor,
                    room_code="GROWTH",
                    day=date(2026, 9, 2),
                    slot=wanted(actor),
                    purpose="Study group",
                    attendees=1,
                    now=START,
                )
        except Refused as refusal:
            return refusal.template
        return "booked"

    try:
        tasks = [asyncio.create_task(attempt(actor)) for actor in actors]
        await asyncio.sleep(0)
        go.set()
        return Counter(await asyncio.gather(*tasks))
    finally:
        await racing.dispose()


async def held(campus: Database) -> int:
    """How many bookings hold a room."""
    async with campus.unit_of_work() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(Booking.status.in_([BookingStatus.CONFIRMED, BookingStatus.PENDING]))
        )
    return count or 0


async def test_two_hundred_people_book_the_same_slot_at_once(campus: Database) -> None:
    outcomes = await race(campus, service(campus), lambda actor: "10:00")
    assert outcomes == Counter({"booked": 1, "booking_taken": 204})
    assert await held(campus) == 1


async def test_two_hundred_people_book_slots_of_two_lengths_that_overlap(
    campus: Database, tmp_path: Path
) -> None:
    # Students ask for 10:00-12:00, teachers and staff for 11:00-12:00: one room, one booking.
    bookings = service(campus, one_hour_for_teachers(tmp_path))

    def wanted(actor: Actor) -> str:
        return "11:00" if actor.status in (PersonStatus.TEACHER, PersonStatus.STAFF) else "10:00"

    assert Counter(wanted(actor) for actor in await everyone(campus)) == {"10:00": 173, "11:00": 32}
    outcomes = await race(campus, bookings, wanted)
    assert outcomes == Counter({"booked": 1, "booking_taken": 204})
    assert await held(campus) == 1


async def test_people_pressing_submit_together_in_the_bot(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    chats = [await linked(person, invite, number, language="en") for number in STUDENTS]
    summaries = [
        await to_summary(
            tg, chat, "Growth service centre", "Growth Service Centre", slot="10:00–12:00"
        )
        for chat in chats
    ]
    # Every Submit is pressed before the bot has handled any of them.
    for chat, summary in zip(chats, summaries, strict=True):
        await tg.user_press(chat.user, summary, summary.button_data("✔ Submit"))
    answers = [
        (
            await tg.wait_for_bot_message(
                chat.user.id, predicate=lambda m: m.edit_date is None, timeout=15
            )
        ).text
        or ""
        for chat in chats
    ]
    booked = [a for a in answers if a.startswith("Booked")]
    taken = [a for a in answers if a.startswith("Just taken: someone booked Growth Service Centre")]
    assert len(booked) == 1 and len(taken) == len(chats) - 1, answers
    async with campus.unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Booking)) == 1
