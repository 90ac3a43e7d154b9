"""Duty rotation through the running bot: four weeks planned around an exam week and National
Day, a swap the first taker wins, an untaken shift going to the room's owner, a work log filed,
reminders due while the bot was down, and a changed pool re-planning only the future."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from assistant.app import StartupError, running
from assistant.config import REPO_ROOT
from assistant.domain import ShiftStatus
from assistant.sandbox import FakeTelegram
from assistant.services.duty import DUTY
from assistant.storage.db import Database
from assistant.storage.models import AuditEntry, DutyLog, DutyShift, Firing, Person
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import C1_COUNSELLOR, STUDENT, linked
from tests.bot.test_report import press, prompt
from tests.rules.helpers import with_shipped_periods

Invite = Callable[[str], Awaitable[str]]
People = Callable[..., Chat]
CAMPUS = ZoneInfo("Asia/Shanghai")
# The pool of the test file, in rotation order (people of B1's floors 1 and 2).
XU, YANG, WANG, WANG_XY = "2023010004", "2024010003", "2021010003", "2022010001"
# Sunday 13 September 2026, midnight on campus.
SUNDAY = datetime(2026, 9, 12, 16, 0, tzinfo=UTC)

CALENDAR = """
    semesters:
      - id: 2026-autumn
        name: {zh: 秋季学期, en: Autumn}
        first_day: 2026-09-07
        teaching_weeks: 16
        exam_weeks: [3]
        last_day: 2027-01-10
"""
DUTY_FILE = """
    rooms:
      - room: BUS-ACT
        owner: counsellor
        pool: status == 'party_member' and building == 'B1' and (floor ?? 9) <= 2
        order: round_robin
        skip: is_holiday or (is_exam_week ?? false)
        remind_minutes: 1440
        escalate_hours: 4
        shifts:
          - id: evening
            days: [1, 2, 3, 4, 5]
            from: "18:30"
            to: "21:30"
"""


def duty_rules(tmp_path: Path, duty: str = DUTY_FILE) -> Path:
    """The shipped rules with an exam week in week 3 (21-27 September) and the test's duty."""
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules, dirs_exist_ok=True)
    (rules / "calendar.yaml").write_text(with_shipped_periods(CALENDAR), encoding="utf-8")
    (rules / "duty.yaml").write_text(textwrap.dedent(duty), encoding="utf-8")
    return rules


def at(clock: Clock, moment: datetime) -> None:
    clock.advance(moment - clock())


def campus_time(day: str, clock_time: str) -> datetime:
    """A campus date and time as UTC."""
    return datetime.fromisoformat(f"{day}T{clock_time}").replace(tzinfo=CAMPUS).astimezone(UTC)


async def roster(db: Database) -> list[tuple[str, str | None, ShiftStatus]]:
    """(campus day, holder's number, status) of every shift, in time order."""
    async with db.unit_of_work() as session:
        rows = await session.execute(
            select(DutyShift, Person.number)
            .outerjoin(Person, Person.id == DutyShift.person_id)
            .order_by(DutyShift.starts_at)
        )
        return [
            (shift.starts_at.astimezone(CAMPUS).date().isoformat(), number, shift.status)
            for shift, number in rows
        ]


async def shift_on(db: Database, day: str) -> DutyShift:
    async with db.unit_of_work() as session:
        shift = await session.scalar(
            select(DutyShift).where(DutyShift.starts_at == campus_time(day, "18:30"))
        )
    assert shift is not None
    return shift


async def audits(db: Database, action: str) -> list[dict[str, Any]]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return [row.detail for row in rows]


def forge(tg: FakeTelegram, chat: Chat, data: str, query_id: str) -> None:
    """A press of a button ``chat`` was never sent."""
    tg.inject_update(
        {
            "callback_query": {
                "id": query_id,
                "from": {"id": chat.user.id, "is_bot": False, "first_name": "x"},
                "chat_instance": "1",
                "message": {
                    "message_id": 1,
                    "date": 1,
                    "chat": {"id": chat.user.id, "type": "private"},
                },
                "data": data,
            }
        }
    )


async def judged(chat: Chat) -> None:
    """Updates of one chat are handled in order: once /help is answered, a forged press before
    it was judged."""
    assert "Community Assistant can do this" in await chat.say("/help")


def labels(message: Any) -> list[str]:
    return [b["text"] for row in message.buttons for b in row]


async def test_four_weeks_skip_the_exam_week_and_national_day(
    campus: Database, tg: FakeTelegram, clock: Clock, tmp_path: Path
) -> None:
    at(clock, SUNDAY)
    async with running(make_application(campus, tg, clock, rules_dir=duty_rules(tmp_path))) as edge:
        await edge.ticker.run_once()
        first = await roster(campus)
        again = await edge.ticker.run_once()
    assert again["duty.plan"] == 0, "planning again changes nothing"
    assert await roster(campus) == first
    planned = [(day, number) for day, number, status in first if status is ShiftStatus.PLANNED]
    # In turn through the pool; the exam week (21-25 September, with Mid-Autumn on the 25th)
    # and National Day (1-7 October) have no duty.
    assert planned == [
        ("2026-09-14", XU),
        ("2026-09-15", YANG),
        ("2026-09-16", WANG),
        ("2026-09-17", WANG_XY),
        ("2026-09-18", XU),
        ("2026-09-28", YANG),
        ("2026-09-29", WANG),
        ("2026-09-30", WANG_XY),
        ("2026-10-08", XU),
        ("2026-10-09", YANG),
    ]
    skipped = [day for day, number, status in first if status is ShiftStatus.SKIPPED]
    assert skipped == [
        *(f"2026-09-{day}" for day in range(21, 26)),
        "2026-10-01",
        "2026-10-02",
        "2026-10-05",
        "2026-10-06",
        "2026-10-07",
    ]
    async with campus.unit_of_work() as session:
        kinds = list(await session.scalars(select(Firing.kind).where(Firing.key.like("duty:%"))))
    assert sorted(kinds) == ["duty.log"] * 10 + ["duty.remind"] * 10


async def test_a_swap_goes_to_the_first_who_takes_it(
    campus: Database,
    tg: FakeTelegram,
    clock: Clock,
    person: People,
    invite: Invite,
    tmp_path: Path,
) -> None:
    at(clock, SUNDAY)
    async with running(make_application(campus, tg, clock, rules_dir=duty_rules(tmp_path))) as edge:
        xu = await linked(person, invite, XU, language="en")
        yang = await linked(person, invite, YANG, language="en")
        wang = await linked(person, invite, WANG, language="en")
        counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
        student = await linked(person, invite, STUDENT, language="en")
        await edge.ticker.run_once()
        shift = await shift_on(campus, "2026-09-14")

        # The day before, at 18:30 on campus, Xu is reminded.
        at(clock, campus_time("2026-09-13", "18:30"))
        await edge.scheduler.run_due()
        reminder = await prompt(tg, xu)
        assert "you are on duty in Business School Party & League Activity Room" in (
            reminder.text or ""
        )
        assert "Mon 14 Sep 18:30–21:30" in (reminder.text or "")
        assert labels(reminder) == ["I can't make it"]

        # Only the holder may give the shift away.
        forge(tg, yang, DUTY.pack(shift=shift.id, op="x"), "forged-1")
        await judged(yang)
        assert await audits(campus, "duty.refused") == [{"shift": shift.id, "op": "x"}]
        assert (await shift_on(campus, "2026-09-14")).status is ShiftStatus.PLANNED

        query = await tg.user_press(xu.user, reminder, reminder.button_data("I can't make it"))
        assert (await tg.wait_for_callback_answer(query)).text == "Offered to the roster."
        offered = await prompt(tg, xu)
        assert "offered to the others on the roster" in (offered.text or "")
        yang_card, wang_card = await prompt(tg, yang), await prompt(tg, wang)
        for card in (yang_card, wang_card):
            assert card.text == (
                "🔁 A duty shift needs someone\n"
                "Business School Party & League Activity Room, Mon 14 Sep 18:30–21:30 "
                "(徐梦 cannot make it).\n"
                "The first to press “Take it” gets the shift."
            )
            assert labels(card) == ["Take it"]
        assert tg.state.bot_outbox.get(student.user.id, []) == [], "not in the pool"

        # Someone outside the pool cannot take it, whatever they send.
        forge(tg, student, DUTY.pack(shift=shift.id, op="t"), "forged-2")
        await judged(student)
        assert {"shift": shift.id, "op": "t"} in await audits(campus, "duty.refused")

        # Two presses at once: the store decides, once.
        first = await tg.user_press(yang.user, yang_card, yang_card.button_data("Take it"))
        second = await tg.user_press(wang.user, wang_card, wang_card.button_data("Take it"))
        answers = {
            (await tg.wait_for_callback_answer(first)).text,
            (await tg.wait_for_callback_answer(second)).text,
        }
        assert answers == {"The shift is yours.", "This shift has already been dealt with."}
        taken = await shift_on(campus, "2026-09-14")
        async with campus.unit_of_work() as session:
            holder = await session.get(Person, taken.person_id)
        assert holder is not None and holder.number in (YANG, WANG)
        winner, loser = (yang, wang) if holder.number == YANG else (wang, yang)
        assert "The shift is yours" in (await prompt(tg, winner)).text
        for told in (xu, counsellor):
            news = await prompt(tg, told)
            assert f"{holder.name} takes the duty shift" in (news.text or "")
            assert "instead of 徐梦" in (news.text or "")
        edited = await tg.wait_for_bot_message(
            loser.user.id, predicate=lambda m: m.edit_date is not None
        )
        # The card's heading says the shift is taken, and by whom.
        assert edited.text == (
            f"✅ Shift taken by {holder.name}\n"
            "Business School Party & League Activity Room, Mon 14 Sep 18:30–21:30."
        )
        assert edited.buttons == []
        assert taken.status is ShiftStatus.PLANNED

        # A swapped shift is never re-planned.
        await edge.ticker.run_once()
    after = await shift_on(campus, "2026-09-14")
    assert (after.person_id, after.swapped_from_person_id) == (
        taken.person_id,
        taken.swapped_from_person_id,
    )
    assert [d["shift"] for d in await audits(campus, "duty.taken")] == [shift.id]


async def test_an_untaken_shift_goes_to_the_rooms_owner(
    campus: Database,
    tg: FakeTelegram,
    clock: Clock,
    person: People,
    invite: Invite,
    tmp_path: Path,
) -> None:
    at(clock, SUNDAY)
    async with running(make_application(campus, tg, clock, rules_dir=duty_rules(tmp_path))) as edge:
        xu = await linked(person, invite, XU, language="en")
        yang = await linked(person, invite, YANG)
        counsellor = await linked(person, invite, C1_COUNSELLOR)
        await edge.ticker.run_once()
        at(clock, campus_time("2026-09-13", "18:30"))
        await edge.scheduler.run_due()
        reminder = await prompt(tg, xu)
        await tg.user_press(xu.user, reminder, reminder.button_data("I can't make it"))
        await prompt(tg, xu)
        card = await prompt(tg, yang)

        # Four hours before the shift nobody has taken it.
        at(clock, campus_time("2026-09-14", "14:30"))
        await edge.scheduler.run_due()
        # (The semester meeting's reminder reaches the counsellor this Monday too.)
        owner_news = await tg.wait_for_bot_message(
            counsellor.user.id, predicate=lambda m: "无人接班" in (m.text or "")
        )
        assert "徐梦 去不了" in (owner_news.text or "")
        holder_news = await prompt(tg, xu)
        assert "Nobody has taken your shift" in (holder_news.text or "")
        assert "朱晓雪 (the room's owner) has been told" in (holder_news.text or "")
        edited = await tg.wait_for_bot_message(
            yang.user.id, predicate=lambda m: m.edit_date is not None
        )
        assert edited.text == (
            "⚠️ 这个班次仍然需要人接\n"
            "商学院党团活动室，9月14日（周一）18:30–21:30（徐梦 去不了）。\n"
            "暂时无人接班，已告知活动室负责人；您仍可以接下这个班次。"
        )
        assert (await shift_on(campus, "2026-09-14")).status is ShiftStatus.ESCALATED

        # Until it starts, someone of the pool may still take it.
        await tg.user_press(yang.user, edited, edited.button_data("我来值班"))
        assert "这个班次归您了" in ((await prompt(tg, yang)).text or "")
        assert card.message_id == edited.message_id
    taken = await shift_on(campus, "2026-09-14")
    assert taken.status is ShiftStatus.PLANNED
    assert await audits(campus, "duty.escalated") == [{"shift": taken.id}]


async def test_the_work_log_is_asked_at_the_end_of_the_shift_and_filed(
    campus: Database,
    tg: FakeTelegram,
    clock: Clock,
    person: People,
    invite: Invite,
    tmp_path: Path,
) -> None:
    at(clock, SUNDAY)
    async with running(make_application(campus, tg, clock, rules_dir=duty_rules(tmp_path))) as edge:
        xu = await linked(person, invite, XU, language="en")
        yang = await linked(person, invite, YANG, language="en")
        await edge.ticker.run_once()
        at(clock, campus_time("2026-09-13", "18:30"))
        await edge.scheduler.run_due()
        await prompt(tg, xu)
        shift = await shift_on(campus, "2026-09-14")

        # Nobody logs a shift before it starts, nor someone else's.
        forge(tg, xu, DUTY.pack(shift=shift.id, op="l"), "early-1")
        await judged(xu)
        forge(tg, yang, DUTY.pack(shift=shift.id, op="l"), "forged-1")
        await judged(yang)
        assert await audits(campus, "duty.refused") == [{"shift": shift.id, "op": "l"}]

        at(clock, campus_time("2026-09-14", "21:30"))
        await edge.scheduler.run_due()
        ask = await prompt(tg, xu)
        assert "is over. Thank you!" in (ask.text or "")
        question = await press(tg, xu, ask, "Write the work log")
        assert (question.text or "").startswith("Duty work log\n\n")
        assert "Mon 14 Sep 18:30–21:30" in (question.text or "")
        assert "How many people came" in (question.text or "")
        assert "number" in await xu.say("many")
        assert "whole number" in await xu.say("12.5")
        assert "What happened" in await xu.say("12")
        assert "Did you find any problem" in await xu.say("A study session on party history")
        await tg.user_send(xu.user, "The lamp by the door is broken")
        grid = await prompt(tg, xu)
        assert "reported to the grid" in (grid.text or "")
        summary = await press(tg, xu, grid, "Yes")
        assert "People who came: 12" in (summary.text or "")
        done = await press(tg, xu, summary, "✔ Submit")
        assert "Work log saved" in (done.text or "") and "/report" in (done.text or "")

        # The log is written once.
        forge(tg, xu, DUTY.pack(shift=shift.id, op="l"), "again-1")
        await judged(xu)
    async with campus.unit_of_work() as session:
        logs = (await session.scalars(select(DutyLog))).all()
    assert [(g.shift_id, g.attendance, g.happened, g.issues) for g in logs] == [
        (shift.id, 12, "A study session on party history", "The lamp by the door is broken")
    ]
    assert (await shift_on(campus, "2026-09-14")).status is ShiftStatus.DONE


async def test_reminders_due_while_down_are_handled_by_policy(
    campus: Database,
    tg: FakeTelegram,
    clock: Clock,
    person: People,
    invite: Invite,
    tmp_path: Path,
) -> None:
    rules = duty_rules(tmp_path)
    at(clock, SUNDAY)
    async with running(make_application(campus, tg, clock, rules_dir=rules)) as edge:
        xu = await linked(person, invite, XU, language="en")
        yang = await linked(person, invite, YANG, language="en")
        await edge.ticker.run_once()
    # Down from Sunday until Monday 22:00 on campus: Xu's shift came and went, Yang's is tomorrow.
    at(clock, campus_time("2026-09-14", "22:00"))
    for _ in range(2):
        async with running(make_application(campus, tg, clock, rules_dir=rules)) as edge:
            await edge.scheduler.run_due()
            await edge.ticker.run_once()
            await edge.scheduler.run_due()
    # A reminder of a shift that has started is worth nothing; the log is asked, once.
    ask = await prompt(tg, xu)
    assert "is over" in (ask.text or "")
    # Yang's reminder was due at 18:30; the shift is tomorrow: late, but once.
    late = await prompt(tg, yang)
    assert "Tue 15 Sep 18:30–21:30" in (late.text or "")
    assert tg.state.bot_outbox.get(xu.user.id, []) == []
    assert tg.state.bot_outbox.get(yang.user.id, []) == []


async def test_a_changed_pool_replans_the_future_never_the_past(
    campus: Database, tg: FakeTelegram, clock: Clock, tmp_path: Path
) -> None:
    rules = duty_rules(tmp_path)
    at(clock, SUNDAY)
    async with running(make_application(campus, tg, clock, rules_dir=rules)) as edge:
        await edge.ticker.run_once()
    # Two shifts later, the first floor leaves the pool.
    at(clock, campus_time("2026-09-15", "22:00"))
    duty_rules(tmp_path, DUTY_FILE.replace("(floor ?? 9) <= 2", "(floor ?? 9) == 2"))
    async with running(make_application(campus, tg, clock, rules_dir=rules)) as edge:
        await edge.ticker.run_once()
    planned = [(day, number) for day, number, status in await roster(campus) if number]
    assert planned[:2] == [("2026-09-14", XU), ("2026-09-15", YANG)], "the past stays"
    # The rotation goes on after Yang, without Xu.
    assert planned[2:] == [
        ("2026-09-16", WANG),
        ("2026-09-17", WANG_XY),
        ("2026-09-18", YANG),
        ("2026-09-28", WANG),
        ("2026-09-29", WANG_XY),
        ("2026-09-30", YANG),
        ("2026-10-08", WANG),
        ("2026-10-09", WANG_XY),
        ("2026-10-12", YANG),
        ("2026-10-13", WANG),
    ]


def test_a_broken_duty_file_stops_the_start(
    campus: Database, tg: FakeTelegram, clock: Clock, tmp_path: Path
) -> None:
    broken = DUTY_FILE.replace('from: "18:30"', "from: 18:30").replace("order:", "ordr:")
    rules = duty_rules(tmp_path, broken)
    with pytest.raises(StartupError) as raised:
        make_application(campus, tg, clock, rules_dir=rules)
    assert raised.value.problems == [
        "rules/duty.yaml:6 [BUS-ACT]: unknown key 'ordr' (known: room, owner, pool, order, skip, "
        "remind_minutes, escalate_hours, shifts) (did you mean 'order'?)",
        "rules/duty.yaml:13 [BUS-ACT/evening]: from is 1110, not a time in quotes like "
        '"18:00" (did you mean \'"18:30"\'?)',
    ]
