"""Reminders of rules/reminders.yaml through the running bot: planned, fired on time to the right
people, handled by policy after a restart, re-planned when the file changes."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from assistant.app import running
from assistant.config import REPO_ROOT
from assistant.sandbox import FakeTelegram
from assistant.storage.db import Database
from assistant.storage.models import Firing, FiringStatus
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import C1_COUNSELLOR, STUDENT, linked

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]
SERVICE_CENTRE = "T0019"
# 1 October 2026 09:00 on campus is 01:00 UTC.
OCTOBER_1 = datetime(2026, 10, 1, 1, 0, tzinfo=UTC)


def at(clock: Clock, moment: datetime) -> None:
    clock.advance(moment - clock())


async def star_firings(db: Database) -> dict[str, FiringStatus]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(select(Firing).where(Firing.key.like("reminder:star-%")))
        # "reminder:<id>:<UTC time>" shown as "<id> <day>".
        return {
            f"{k.split(':')[1]} {k.split(':', 2)[2][:10]}": r.status
            for k, r in ((r.key, r) for r in rows)
        }


async def test_the_star_of_the_month_opens_reminds_and_closes(
    campus: Database, tg: FakeTelegram, clock: Clock, person: Person, invite: Invite
) -> None:
    at(clock, datetime(2026, 9, 30, 12, 0, tzinfo=UTC))
    async with running(make_application(campus, tg, clock)) as edge:
        student = await linked(person, invite, STUDENT, language="en")
        counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
        selector = await linked(person, invite, SERVICE_CENTRE, language="en")
        await edge.ticker.run_once()
        assert await star_firings(campus) == {
            "star-open 2026-10-01": FiringStatus.PENDING,
            "star-last-days 2026-10-20": FiringStatus.PENDING,
            "star-closed 2026-10-26": FiringStatus.PENDING,
            "star-open 2026-11-01": FiringStatus.PENDING,
        }

        at(clock, OCTOBER_1)
        await edge.scheduler.run_due()
        opened = await tg.wait_for_bot_message(student.user.id)
        assert "Star of the Month nominations open" in (opened.text or "")
        assert "open until the 25th" in (opened.text or "")
        assert (await student.say("/nominate")).startswith("Nominate the Star of the Month")
        await tg.user_send(student.user, "/cancel")
        await tg.wait_for_bot_message(
            student.user.id, predicate=lambda m: "Cancelled" in (m.text or "")
        )
        # The question given up loses its buttons too.
        await tg.wait_until(
            lambda: not any(m.buttons for m in tg.messages(student.user.id) if m.from_bot)
        )
        tg.state.bot_outbox[student.user.id].clear()

        at(clock, datetime(2026, 10, 20, 1, 0, tzinfo=UTC))
        await edge.scheduler.run_due()
        reminded = await tg.wait_for_bot_message(student.user.id)
        assert "close on the 25th" in (reminded.text or "")

        at(clock, datetime(2026, 10, 26, 1, 0, tzinfo=UTC))
        await edge.scheduler.run_due()
        closed = await tg.wait_for_bot_message(selector.user.id)
        assert "send /stars" in (closed.text or "")
        assert "closed on the 25th" in await student.say("/nominate")
        # Staff are not nominators: the counsellor heard nothing of it (a teacher, they may
        # hear of their duty shifts meanwhile).
        heard = [m.text or "" for m in tg.state.bot_outbox.get(counsellor.user.id, [])]
        assert not [text for text in heard if "Star" in text or "之星" in text], heard
    fired = await star_firings(campus)
    assert fired.pop("star-open 2026-11-01") is FiringStatus.PENDING
    assert set(fired.values()) == {FiringStatus.FIRED}


async def test_reminders_due_while_down_fire_once_or_are_skipped_by_policy(
    campus: Database, tg: FakeTelegram, clock: Clock, person: Person, invite: Invite
) -> None:
    at(clock, datetime(2026, 9, 30, 12, 0, tzinfo=UTC))
    async with running(make_application(campus, tg, clock)) as edge:
        await linked(person, invite, STUDENT, language="en")
        selector = await linked(person, invite, SERVICE_CENTRE, language="en")
        await edge.ticker.run_once()
    # Down from 30 September until an hour after the 26 October reminder was due.
    at(clock, datetime(2026, 10, 26, 2, 0, tzinfo=UTC))
    for _ in range(2):
        async with running(make_application(campus, tg, clock)) as edge:
            await edge.scheduler.run_due()
            await edge.ticker.run_once()
            await edge.scheduler.run_due()
    closed = await tg.wait_for_bot_message(selector.user.id)
    assert "send /stars" in (closed.text or "")
    assert tg.state.bot_outbox.get(selector.user.id, []) == [], "fired once, not twice"
    statuses = await star_firings(campus)
    # star-open and star-last-days say `missed: skip`; star-closed says `missed: late_once`.
    assert statuses["star-open 2026-10-01"] is FiringStatus.SKIPPED
    assert statuses["star-last-days 2026-10-20"] is FiringStatus.SKIPPED
    assert statuses["star-closed 2026-10-26"] is FiringStatus.FIRED


async def test_a_changed_file_replans_the_future_never_the_past(
    campus: Database, tg: FakeTelegram, clock: Clock, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules)
    at(clock, datetime(2026, 9, 30, 12, 0, tzinfo=UTC))
    async with running(make_application(campus, tg, clock, rules_dir=rules)) as edge:
        await edge.ticker.run_once()
        at(clock, OCTOBER_1)
        await edge.scheduler.run_due()
    reminders = rules / "reminders.yaml"
    text = reminders.read_text(encoding="utf-8")
    reminders.write_text(
        text.replace('at: {days: [20], time: "09:00"}', 'at: {days: [21], time: "09:00"}').replace(
            'at: {days: [1], time: "09:00"}', 'at: {days: [2], time: "09:00"}'
        ),
        encoding="utf-8",
    )
    async with running(make_application(campus, tg, clock, rules_dir=rules)) as edge:
        await edge.ticker.run_once()
    assert await star_firings(campus) == {
        # Fired on 1 October under the old file: kept as it happened.
        "star-open 2026-10-01": FiringStatus.FIRED,
        "star-open 2026-10-02": FiringStatus.PENDING,
        "star-last-days 2026-10-21": FiringStatus.PENDING,
        "star-closed 2026-10-26": FiringStatus.PENDING,
        "star-open 2026-11-02": FiringStatus.PENDING,
    }
