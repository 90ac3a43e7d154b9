"""The durable scheduler: firings are rows, fire once, survive restarts, follow their policy."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.app import running
from assistant.domain import MissedPolicy
from assistant.sandbox import FakeTelegram
from assistant.schedule import Scheduler, firings
from assistant.storage import repo
from assistant.storage.db import Database
from assistant.storage.models import Firing, FiringStatus, OutboxMessage
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import STUDENT, linked

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]


async def plan_note(
    db: Database, clock: Clock, key: str, due_at: datetime, note: str, **extra: object
) -> int:
    async with db.unit_of_work() as session:
        student = await repo.person_by_number(session, STUDENT)
        assert student is not None
        return await firings.plan(
            session,
            [
                {
                    "key": key,
                    "kind": "message",
                    "due_at": due_at,
                    "payload": {
                        "template": "reminder_note",
                        "variables": {"note": note},
                        "person_ids": [student.id],
                    },
                    **extra,
                }
            ],
            now=clock(),
        )


async def statuses(db: Database) -> dict[str, FiringStatus]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(select(Firing))
        return {row.key: row.status for row in rows}


async def notes_sent(db: Database, note: str) -> int:
    async with db.unit_of_work() as session:
        rows = await session.scalars(select(OutboxMessage))
        return sum(1 for row in rows if note in str(row.payload.get("text", "")))


async def test_planning_the_same_firing_twice_stores_it_once(
    campus: Database, clock: Clock
) -> None:
    due = clock() + timedelta(hours=1)
    assert await plan_note(campus, clock, "note:a", due, "x") == 1
    assert await plan_note(campus, clock, "note:a", due, "x") == 0
    assert await statuses(campus) == {"note:a": FiringStatus.PENDING}


async def test_a_due_firing_reaches_the_person_once(
    campus: Database, tg: FakeTelegram, clock: Clock, person: Person, invite: Invite
) -> None:
    async with running(make_application(campus, tg, clock)) as edge:
        student = await linked(person, invite, STUDENT, language="en")
        await plan_note(
            campus, clock, "note:meeting", clock() + timedelta(hours=1), "meeting at 10"
        )
        await edge.scheduler.run_due()
        assert await statuses(campus) == {"note:meeting": FiringStatus.PENDING}
        clock.advance(timedelta(hours=1))
        await edge.scheduler.run_due()
        message = await tg.wait_for_bot_message(
            student.user.id, predicate=lambda m: "meeting at 10" in (m.text or "")
        )
        assert message.text == "⏰ Reminder: meeting at 10"
        await edge.scheduler.run_due()
    assert await statuses(campus) == {"note:meeting": FiringStatus.FIRED}
    assert await notes_sent(campus, "meeting at 10") == 1


async def test_firings_missed_while_down_fire_late_once_or_are_skipped(
    campus: Database, tg: FakeTelegram, clock: Clock, person: Person, invite: Invite
) -> None:
    async with running(make_application(campus, tg, clock)):
        student = await linked(person, invite, STUDENT, language="en")
    # Planned, then the bot is down past both due times.
    due = clock() + timedelta(hours=1)
    await plan_note(campus, clock, "note:late", due, "still worth saying")
    await plan_note(campus, clock, "note:stale", due, "too late now", missed=MissedPolicy.SKIP)
    await plan_note(campus, clock, "note:future", due + timedelta(days=1), "tomorrow")
    clock.advance(timedelta(hours=3))
    async with running(make_application(campus, tg, clock)) as edge:
        await edge.scheduler.run_due()
        await tg.wait_for_bot_message(
            student.user.id, predicate=lambda m: "still worth saying" in (m.text or "")
        )
    # A second restart finds nothing left to fire.
    async with running(make_application(campus, tg, clock)) as edge:
        assert (await edge.scheduler.run_due()).fired == 0
    assert await statuses(campus) == {
        "note:late": FiringStatus.FIRED,
        "note:stale": FiringStatus.SKIPPED,
        "note:future": FiringStatus.PENDING,
    }
    assert await notes_sent(campus, "still worth saying") == 1
    assert await notes_sent(campus, "too late now") == 0


async def test_two_instances_never_fire_the_same_firing(campus: Database, clock: Clock) -> None:
    fired: list[str] = []

    async def record(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
        fired.extend(firing.key for firing in due)

    async with campus.unit_of_work() as session:
        await firings.plan(
            session,
            [
                {"key": f"k{i}", "kind": "record", "due_at": clock() - timedelta(seconds=i)}
                for i in range(300)
            ],
            now=clock(),
        )
    instances = [
        Scheduler(campus, clock, {"record": record}, lambda: None, batch=50) for _ in range(2)
    ]
    passes = await asyncio.gather(*(s.run_due() for s in instances))
    while any(status is FiringStatus.PENDING for status in (await statuses(campus)).values()):
        passes += await asyncio.gather(*(s.run_due() for s in instances))
    assert sorted(fired) == sorted(f"k{i}" for i in range(300))
    assert sum(p.fired for p in passes) == 300


async def test_a_failing_firing_stays_pending_and_the_others_fire(
    campus: Database, clock: Clock
) -> None:
    async def flaky(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
        if any(firing.payload.get("broken") for firing in due):
            raise RuntimeError("cannot reach the template")

    async with campus.unit_of_work() as session:
        await firings.plan(
            session,
            [
                {"key": "bad", "kind": "flaky", "due_at": clock(), "payload": {"broken": True}},
                {"key": "good", "kind": "flaky", "due_at": clock()},
            ],
            now=clock(),
        )
    done = await Scheduler(campus, clock, {"flaky": flaky}, lambda: None).run_due()
    assert (done.fired, done.failed) == (1, 1)
    assert await statuses(campus) == {"bad": FiringStatus.PENDING, "good": FiringStatus.FIRED}
