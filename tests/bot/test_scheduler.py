"""The durable scheduler: firings are rows, fire once, survive restarts, follow their policy."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.app import running
from assistant.bot.context import Deps
from assistant.domain import SCHOOL_SCOPE_ID, MissedPolicy, Role, ScopeKind
from assistant.sandbox import FakeTelegram
from assistant.schedule import Failure, Report, Scheduler, firings
from assistant.services.admins import firings_failed
from assistant.storage import repo
from assistant.storage.db import Database
from assistant.storage.models import Firing, FiringStatus, OutboxMessage, RoleAssignment
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_edge import ADMIN
from tests.bot.test_identity import STUDENT, linked

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]
# A counsellor the tests make an admin too, to hear the scheduler's reports in Chinese.
SECOND_ADMIN = "T0005"


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


async def rows(db: Database) -> dict[str, Firing]:
    async with db.unit_of_work() as session:
        return {row.key: row for row in await session.scalars(select(Firing))}


def recording(failures: list[Failure]) -> Report:
    """A report that keeps what it was told, for schedulers a test builds itself."""

    async def report(session: AsyncSession, failed: Sequence[Failure], now: datetime) -> None:
        failures.extend(failed)

    return report


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
        Scheduler(campus, clock, {"record": record}, lambda: None, report=recording([]), batch=50)
        for _ in range(2)
    ]
    passes = await asyncio.gather(*(s.run_due() for s in instances))
    while any(status is FiringStatus.PENDING for status in (await statuses(campus)).values()):
        passes += await asyncio.gather(*(s.run_due() for s in instances))
    assert sorted(fired) == sorted(f"k{i}" for i in range(300))
    assert sum(p.fired for p in passes) == 300


async def test_a_failing_firing_waits_to_be_tried_again_and_the_others_fire(
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
    failures: list[Failure] = []
    scheduler = Scheduler(campus, clock, {"flaky": flaky}, lambda: None, report=recording(failures))
    done = await scheduler.run_due()
    assert (done.fired, done.failed) == (1, 1)
    assert await statuses(campus) == {"bad": FiringStatus.PENDING, "good": FiringStatus.FIRED}
    bad = (await rows(campus))["bad"]
    assert (bad.attempts, bad.due_at) == (1, clock())
    assert bad.next_attempt_at == clock() + timedelta(minutes=1)
    assert (bad.last_error or "").endswith("RuntimeError: cannot reach the template")
    # Not due again until its delay has passed.
    assert (await scheduler.run_due()).failed == 0
    assert failures == []


async def admins(campus: Database, person: Person, invite: Invite) -> tuple[Chat, Chat]:
    """The demo campus's admin, in English, and a second one, in Chinese."""
    async with campus.unit_of_work() as session:
        second = await repo.person_by_number(session, SECOND_ADMIN)
        assert second is not None
        session.add(
            RoleAssignment(
                person_id=second.id,
                role=Role.ADMIN,
                scope_kind=ScopeKind.SCHOOL,
                scope_id=SCHOOL_SCOPE_ID,
            )
        )
    return (
        await linked(person, invite, ADMIN, language="en"),
        await linked(person, invite, SECOND_ADMIN, language="zh-hans"),
    )


def broken_note(key: str, due_at: datetime, person_id: int) -> dict[str, object]:
    """A firing that can never succeed: its template was removed after it was planned."""
    return {
        "key": key,
        "kind": "message",
        "due_at": due_at,
        "payload": {"template": "gone_template", "variables": {}, "person_ids": [person_id]},
    }


async def test_a_failing_firing_backs_off_then_fails_and_the_admins_hear_of_it(
    campus: Database, tg: FakeTelegram, clock: Clock, person: Person, invite: Invite
) -> None:
    due = clock()
    async with running(make_application(campus, tg, clock)) as edge:
        english, chinese = await admins(campus, person, invite)
        await linked(person, invite, STUDENT, language="en")
        async with campus.unit_of_work() as session:
            student = await repo.person_by_number(session, STUDENT)
            assert student is not None
            await firings.plan(session, [broken_note("note:gone", due, student.id)], now=due)
        # Tried at once, then after 1, 2, 4 and 8 minutes more: five tries in all.
        for tries, wait in enumerate((1, 2, 4, 8), start=1):
            await edge.scheduler.run_due()
            row = (await rows(campus))["note:gone"]
            assert (row.status, row.attempts, row.due_at) == (FiringStatus.PENDING, tries, due)
            clock.advance(timedelta(minutes=wait) - timedelta(seconds=1))
            await edge.scheduler.run_due()
            assert (await rows(campus))["note:gone"].attempts == tries
            clock.advance(timedelta(seconds=1))
        await edge.scheduler.run_due()
        row = (await rows(campus))["note:gone"]
        assert (row.status, row.attempts, row.due_at) == (FiringStatus.FAILED, 5, due)
        gone = "jinja2.exceptions.TemplateNotFound: 'en/gone_template.j2' not found"
        assert gone in (row.last_error or "").splitlines()[-1]
        told = await tg.wait_for_bot_message(english.user.id)
        assert (told.text or "").startswith(
            "1 scheduled firing(s) failed and will not be tried again:\n"
            f"• note:gone (message, 5 tries): {gone}"
        )
        assert (told.text or "").endswith(
            "See assistant firings; once fixed, assistant firings --retry KEY tries one again."
        )
        told = await tg.wait_for_bot_message(chinese.user.id)
        assert (told.text or "").startswith(
            f"1 个定时任务执行失败，不再重试：\n• note:gone（message，已尝试 5 次）：{gone}"
        )
        # Failed for good: later passes leave it alone, and nobody is told twice.
        clock.advance(timedelta(hours=1))
        await edge.scheduler.run_due()
    assert (await rows(campus))["note:gone"].attempts == 5
    assert await notes_sent(campus, "note:gone") == 2


async def test_failing_firings_cannot_hold_up_the_others(
    campus: Database, tg: FakeTelegram, clock: Clock, person: Person, invite: Invite
) -> None:
    application = make_application(campus, tg, clock)
    async with running(application) as edge:
        student = await linked(person, invite, STUDENT, language="en")
        admin, _ = await admins(campus, person, invite)
        due = clock()
        async with campus.unit_of_work() as session:
            someone = await repo.person_by_number(session, STUDENT)
            assert someone is not None
            # Each kind alone fills a batch, and is planned before the reminder.
            never = [{"key": f"retired:{i}", "kind": "retired", "due_at": due} for i in range(4)]
            never += [broken_note(f"broken:{i}", due, someone.id) for i in range(4)]
            await firings.plan(session, never, now=due)
        await plan_note(campus, clock, "note:meeting", due, "meeting at 10")
        # The edge's own loop steps aside for one whose batch the never-succeeding fill.
        await edge.scheduler.stop()
        deps: Deps = application.bot_data["deps"]
        scheduler = Scheduler(
            campus,
            clock,
            application.bot_data["firings"],
            edge.sender.kick,
            report=firings_failed(deps.texts, deps.settings.language),
            batch=4,
        )
        done = await asyncio.wait_for(scheduler.run_due(), timeout=10)
        assert (done.fired, done.failed) == (1, 8)
        message = await tg.wait_for_bot_message(
            student.user.id, predicate=lambda m: "meeting at 10" in (m.text or "")
        )
        assert message.text == "⏰ Reminder: meeting at 10"
        # Told of the four that failed for good, and only of them.
        told = await tg.wait_for_bot_message(admin.user.id)
        assert told.text == (
            "4 scheduled firing(s) failed and will not be tried again:\n"
            + "".join(
                f"• retired:{i} (retired, 1 tries): no handler for firings of kind 'retired'\n"
                for i in range(4)
            )
            + "See assistant firings; once fixed, assistant firings --retry KEY tries one again."
        )
    assert await notes_sent(campus, "retired:0") == 2  # one report to each admin
    found = await rows(campus)
    assert (found["note:meeting"].status, found["note:meeting"].fired_at) == (
        FiringStatus.FIRED,
        due,
    )
    for i in range(4):
        broken, retired = found[f"broken:{i}"], found[f"retired:{i}"]
        # Tried once, on time, and waiting for its next try; its due time unchanged.
        assert (broken.status, broken.attempts, broken.due_at) == (FiringStatus.PENDING, 1, due)
        assert broken.next_attempt_at == due + timedelta(minutes=1)
        # Nothing could ever fire it: failed at once, with the reason.
        assert (retired.status, retired.attempts) == (FiringStatus.FAILED, 1)
        assert retired.last_error == "no handler for firings of kind 'retired'"
