"""Public holidays the calendar file lists for a year chinese-calendar does not know yet: the duty
plan skips them and works the make-up Saturday, and rooms cannot be booked on them."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from assistant.app import running
from assistant.config import REPO_ROOT
from assistant.domain import ShiftStatus
from assistant.sandbox import FakeTelegram
from assistant.storage.db import Database
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_booking import last_message
from tests.bot.test_duty import CAMPUS, XU, at, roster
from tests.bot.test_identity import STUDENT, linked
from tests.bot.test_report import press, prompt
from tests.rules.helpers import with_shipped_periods

Invite = Callable[[str], Awaitable[str]]
People = Callable[..., Chat]

# Made-up dates for a year the package has no data for: Monday 5 April 2027 off, Saturday 10
# April worked instead.
SPRING_2027 = """
    semesters:
      - id: 2027-spring
        name: {zh: 春季学期, en: Spring}
        first_day: 2027-03-01
        teaching_weeks: 18
        exam_weeks: [19, 20]
        last_day: 2027-07-18
    holidays:
      - id: 2027-qingming
        name: {zh: 清明节, en: Qingming Festival}
        from: 2027-04-05
        to: 2027-04-05
    workdays: [2027-04-10]
"""
DUTY_FILE = """
    rooms:
      - room: BUS-ACT
        owner: counsellor
        pool: status == 'party_member' and building == 'B1' and (floor ?? 9) <= 2
        order: round_robin
        skip: is_holiday
        remind_minutes: 1440
        escalate_hours: 4
        shifts:
          - id: evening
            days: [1, 2, 3, 4, 5, 6]
            from: "18:30"
            to: "21:30"
"""


def spring_rules(tmp_path: Path, *, duty: str | None = None, listed: bool = True) -> Path:
    """The shipped rules with the spring 2027 calendar (its holidays listed, or not)."""
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules, dirs_exist_ok=True)
    calendar = textwrap.dedent(SPRING_2027)
    if not listed:
        calendar = calendar.split("holidays:")[0]
    (rules / "calendar.yaml").write_text(with_shipped_periods(calendar), encoding="utf-8")
    if duty is not None:
        (rules / "duty.yaml").write_text(textwrap.dedent(duty), encoding="utf-8")
    return rules


async def test_the_duty_plan_skips_a_listed_holiday_and_works_the_listed_saturday(
    campus: Database, tg: FakeTelegram, clock: Clock, tmp_path: Path
) -> None:
    # Sunday 4 April 2027, midnight on campus.
    at(clock, datetime(2027, 4, 4, tzinfo=CAMPUS).astimezone(UTC))
    rules = spring_rules(tmp_path, duty=DUTY_FILE)
    async with running(make_application(campus, tg, clock, rules_dir=rules)) as edge:
        await edge.ticker.run_once()
        week = [row for row in await roster(campus) if row[0] <= "2027-04-11"]
    assert [(day, status) for day, _, status in week] == [
        ("2027-04-05", ShiftStatus.SKIPPED),
        *((f"2027-04-0{day}", ShiftStatus.PLANNED) for day in range(6, 10)),
        ("2027-04-10", ShiftStatus.PLANNED),
    ]
    assert week[1][1] == XU, "the first shift worked goes to the first of the pool"


async def test_without_the_listed_holidays_only_the_weekend_is_off(
    campus: Database, tg: FakeTelegram, clock: Clock, tmp_path: Path
) -> None:
    at(clock, datetime(2027, 4, 4, tzinfo=CAMPUS).astimezone(UTC))
    rules = spring_rules(tmp_path, duty=DUTY_FILE, listed=False)
    async with running(make_application(campus, tg, clock, rules_dir=rules)) as edge:
        await edge.ticker.run_once()
        week = [row for row in await roster(campus) if row[0] <= "2027-04-11"]
    assert [(day, status) for day, _, status in week] == [
        *((f"2027-04-0{day}", ShiftStatus.PLANNED) for day in range(5, 10)),
        ("2027-04-10", ShiftStatus.SKIPPED),
    ]


async def test_a_room_cannot_be_booked_on_a_listed_holiday(
    campus: Database, tg: FakeTelegram, clock: Clock, tmp_path: Path, person: People, invite: Invite
) -> None:
    # Thursday 1 April 2027, 09:00 on campus.
    at(clock, datetime(2027, 4, 1, 9, tzinfo=CAMPUS).astimezone(UTC))
    async with running(make_application(campus, tg, clock, rules_dir=spring_rules(tmp_path))):
        student = await linked(person, invite, STUDENT, language="en")
        await tg.user_send(student.user, "/book")
        kinds = await prompt(tg, student)
        rooms = await press(tg, student, kinds, "Party and League activity room")
        await press(tg, student, rooms, "Business School Party & League Activity Room")
        closed = await student.say("2027-04-05")
        assert closed.startswith("Rooms of this kind cannot be booked"), closed
        # The Saturday worked instead is a working day: rooms are open.
        assert await student.say("2027-04-10") == (
            "Pick a free slot. Check in within 15 minutes of its start, or the room is released."
        )
        assert last_message(tg, student).buttons
