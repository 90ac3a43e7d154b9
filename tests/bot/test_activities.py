"""Activities through the running bot: the owners of a fixed activity reminded to schedule it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from assistant.app import running
from assistant.sandbox import FakeTelegram
from assistant.storage.db import Database
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import linked

Invite = Callable[[str], Awaitable[str]]
Person_ = Callable[..., Chat]
# 18 October 2026, 09:00 on campus: a month before November's Dorm Cup.
DORM_CUP_DUE = datetime(2026, 10, 18, 1, 0, tzinfo=UTC)


async def test_the_owners_and_only_they_are_reminded_to_schedule_it(
    campus: Database, tg: FakeTelegram, clock: Clock, person: Person_, invite: Invite
) -> None:
    async with running(make_application(campus, tg, clock)):
        league = await linked(person, invite, "T0031", language="en")
        counsellor = await linked(person, invite, "T0005")
    clock.now = DORM_CUP_DUE - timedelta(days=2)
    async with running(make_application(campus, tg, clock)) as edge:
        await edge.ticker.run_once()
        clock.advance(timedelta(days=2))
        await edge.scheduler.run_due()
        reminder = await tg.wait_for_bot_message(
            league.user.id, predicate=lambda m: "Dorm Cup" in (m.text or "")
        )
    assert reminder.text == (
        "📅 Please schedule this year's Dorm Cup basketball.\n"
        "When: November\n"
        "Expected result: Teams by community or college\n\n"
        "Send /activity to set it up: book a place and invite people to sign up."
    )
    assert not any("宿舍杯" in (m.text or "") for m in tg.messages(counsellor.user.id))
