"""Star of the Month, end to end: nominating in both languages, the Service Centre's pick, the
announcement, and everyone else refused."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from assistant.app import Edge, running
from assistant.bot.stars import STAR_SURE
from assistant.config import REPO_ROOT
from assistant.domain import PersonStatus
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import FakeMessage
from assistant.storage import models, repo
from assistant.storage.db import Database
from assistant.storage.models import (
    AuditEntry,
    ConversationState,
    ConversationStatus,
    StarAward,
    StarNomination,
)
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import (
    C1_COUNSELLOR,
    FLOOR_1_GRID,
    FLOOR_1_LEADER,
    STUDENT,
    linked,
)
from tests.bot.test_report import press_in_flight, settled

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]

# Community C1 (building B1): its student party members are the people one may nominate there.
C1_PARTY_MEMBERS = ["徐梦", "杨兰", "王琪华", "王轩燕", "高艳芳", "黄娟磊", "黄欣", "王强鹏"]
PARTY_MEMBER = "2023010008"  # 黄欣, B1-401
C2_STUDENT = "2024010006"  # dorm head of B2-102, community C2
SERVICE_CENTRE = "T0019"
SERVICE_CENTRE_2 = "T0020"
REFUSED = "您没有进行此操作的权限。"


async def prompt(tg: FakeTelegram, chat: Chat) -> FakeMessage:
    """The bot's next new message to this person (edits are skipped)."""
    return await tg.wait_for_bot_message(chat.user.id, predicate=lambda m: m.edit_date is None)


async def press(tg: FakeTelegram, chat: Chat, message: FakeMessage, label: str) -> FakeMessage:
    """Press the button labelled ``label`` and return the next new message."""
    await tg.user_press(chat.user, message, message.button_data(label))
    return await prompt(tg, chat)


def labels(message: FakeMessage) -> list[str]:
    return [b["text"] for row in message.buttons for b in row]


async def nominate(
    tg: FakeTelegram, chat: Chat, nominee: str, reason: str, *, english: bool = False
) -> str:
    """Walk /nominate to its end; returns the bot's last answer."""
    await tg.user_send(chat.user, "/nominate")
    question = await prompt(tg, chat)
    await press(tg, chat, question, nominee)
    await tg.user_send(chat.user, reason)
    summary = await prompt(tg, chat)
    done = await press(tg, chat, summary, "✔ Submit" if english else "✔ 提交")
    assert done.text is not None
    return done.text


async def stored(db: Database, model: type[StarNomination] | type[StarAward]) -> list[object]:
    async with db.unit_of_work() as session:
        return list((await session.scalars(select(model))).all())


async def audit(db: Database, action: str) -> list[AuditEntry]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return list(rows.all())


async def asked(tg: FakeTelegram, chat: Chat, board: FakeMessage, button: str) -> FakeMessage:
    """Press ``button`` (a Pick) of ``board``; the board's message as it asks, once edited."""
    query = await tg.user_press(chat.user, board, board.button_data(button))
    assert (await tg.wait_for_callback_answer(query)).text is None
    return await tg.wait_for_bot_message(
        chat.user.id,
        predicate=lambda m: m.message_id == board.message_id and m.edit_date is not None,
    )


async def stars_shown(
    tg: FakeTelegram, chat: Chat, boards: int
) -> tuple[FakeMessage, list[FakeMessage], FakeMessage]:
    """Send /stars: the month's heading, each community's board, and the Stars so far."""
    await tg.user_send(chat.user, "/stars")
    heading = await prompt(tg, chat)
    shown = [await prompt(tg, chat) for _ in range(boards)]
    return heading, shown, await prompt(tg, chat)


async def test_a_student_nominates_in_chinese_and_the_centre_picks_the_star(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    star = await linked(person, invite, FLOOR_1_LEADER)
    neighbour = await linked(person, invite, FLOOR_1_GRID, language="en")
    elsewhere = await linked(person, invite, C2_STUDENT)
    centre = await linked(person, invite, SERVICE_CENTRE)
    other_centre = await linked(person, invite, SERVICE_CENTRE_2, language="en")
    group = await tg.add_group("1号楼1层", [star.user])
    await tg.wait_for_bot_message(group.id)
    assert "已绑定" in await star.say("/bind", group.id)
    student = await linked(person, invite, STUDENT)

    await tg.user_send(student.user, "/nominate")
    question = await prompt(tg, student)
    assert question.text == "提名“每月之星”\n\n请选择您要提名的人：本社区近期未当选的学生党员。"
    shown = labels(question)
    assert sorted(label.split("（")[0] for label in shown[:-1]) == sorted(C1_PARTY_MEMBERS)
    assert XU_MENG_ZH in shown and shown[-1] == "✖ 取消"
    reason = await press(tg, student, question, XU_MENG_ZH)
    assert "提名理由" in (reason.text or "")
    assert (await student.say("热心")).startswith("内容太短了，至少 10 个字。")
    await tg.user_send(student.user, "每周在自习室为同学义务辅导高数，热心帮助新生适应")
    summary = await prompt(tg, student)
    assert summary.text is not None
    assert "被提名人：徐梦（1号楼 102 室）" in summary.text and "义务辅导高数" in summary.text
    done = await press(tg, student, summary, "✔ 提交")
    assert done.text == "已提名徐梦为 2026 年 9 月“每月之星”，谢谢！评选结果会通知您。"

    member = await linked(person, invite, PARTY_MEMBER, language="en")
    assert (
        await nominate(tg, member, XU_MENG, "Organised the floor clean-up", english=True)
        == "You nominated 徐梦 for the Star of September 2026. Thank you! You will hear who "
        "is chosen."
    )
    [first, second] = await stored(campus, StarNomination)
    assert isinstance(first, StarNomination) and isinstance(second, StarNomination)
    assert (first.month, first.nominee_person_id) == ("2026-09", second.nominee_person_id)

    _, [stale], _ = await stars_shown(tg, other_centre, 1)
    _, [board], _ = await stars_shown(tg, centre, 1)
    assert board.text is not None
    assert "第一社区 · 2026 年 9 月“每月之星”提名" in board.text
    assert "徐梦（2023010004）· 2 人提名" in board.text
    assert "义务辅导高数" in board.text and "Organised the floor clean-up" in board.text
    assert labels(board) == ["评选 徐梦"]
    question = await asked(tg, centre, board, "评选 徐梦")
    query = await tg.user_press(centre.user, question, question.button_data("确定评选"))
    assert (await tg.wait_for_callback_answer(query)).text is None
    edited = await tg.wait_for_bot_message(centre.user.id, predicate=lambda m: m.edit_date)
    assert (
        edited.text is not None
        and "已评出全校“每月之星”：徐梦（第一社区，张超天评选）" in edited.text
    )
    # The board now only offers to record the award, which is asked for at once.
    assert labels(tg.message(centre.user.id, board.message_id)) == ["🏅 记录颁奖"]
    assert "颁发的是什么奖励？" in ((await prompt(tg, centre)).text or "")

    won = await prompt(tg, star)
    assert won.text == "🌟 祝贺您当选全校 2026 年 9 月“每月之星”！共有 2 位同学提名了您。"
    told = await prompt(tg, student)
    assert told.text == "🌟 您提名的徐梦当选全校 2026 年 9 月“每月之星”。谢谢您的提名！"
    thanked = await prompt(tg, member)
    assert "徐梦, whom you nominated, is the school's Star of September 2026" in (
        thanked.text or ""
    )
    news = await prompt(tg, neighbour)
    assert news.text is not None and news.text.startswith(
        "🌟 The school's Star of September 2026: 徐梦 (Community 1)"
    )
    announced = await tg.wait_for_bot_message(group.id)
    assert "全校 2026 年 9 月“每月之星”：徐梦（第一社区）" in (announced.text or "")
    # The school's Star is everyone's news, in every community.
    far = await prompt(tg, elsewhere)
    assert "全校 2026 年 9 月“每月之星”：徐梦（第一社区）" in (far.text or "")
    [award] = await stored(campus, StarAward)
    assert isinstance(award, StarAward) and award.month == "2026-09"
    assert (award.scope, award.scope_id) == ("school", 0)
    [chosen] = await audit(campus, "star.chosen")
    assert (chosen.detail["community"], chosen.detail["scope"]) == ("C1", "school")

    # Someone else of the Centre pressing an older list finds the Star already chosen.
    late = await tg.user_press(other_centre.user, stale, stale.button_data("Pick 徐梦"))
    answer = await tg.wait_for_callback_answer(late)
    assert answer.text == (
        "The school's Star of September 2026 has already been chosen: 徐梦 (Community 1)."
    )
    assert len(await stored(campus, StarAward)) == 1

    # Next month a new nomination is open, but this month's Star is resting.
    clock.advance(timedelta(days=30))
    await tg.user_send(student.user, "/nominate")
    october = await prompt(tg, student)
    assert XU_MENG_ZH not in labels(october) and "黄欣（1号楼 401 室）" in labels(october)


async def test_nominating_in_english_with_back_and_cancel(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    member = await linked(person, invite, PARTY_MEMBER, language="en")
    await tg.user_send(member.user, "/nominate")
    question = await prompt(tg, member)
    assert question.text == (
        "Nominate the Star of the Month\n\n"
        "Whom do you nominate? You can choose a student party member of your community who "
        "has not won recently."
    )
    shown = labels(question)
    # One does not nominate oneself: 黄欣 is not among the choices.
    assert XU_MENG in shown and not any("黄欣" in s for s in shown)
    reason = await press(tg, member, question, YANG_LAN)
    assert "Why do you nominate them?" in (reason.text or "")
    again = await press(tg, member, reason, "« Back")
    assert again.text is not None and again.text.startswith("Whom do you nominate?")
    # Typing a choice works too: the name as listed, or the student number.
    assert "Why do you nominate them?" in await member.say("2023010004")
    summary_text = await member.say("Helps everyone on the floor with their studies")
    assert "Nominee: 徐梦 (Building 1, room 102)" in summary_text
    assert "Why do you nominate them?" in await member.say("/back")
    assert await member.say("/cancel") == "Cancelled; nothing was submitted."
    assert await member.say("/cancel") == "Nothing is in progress."
    assert await stored(campus, StarNomination) == []


ALREADY = {
    "zh-CN": "本月您已经提名过了，每人每月只能提名一次，下月 1 日起可以再次提名。",
    "en": "You have already nominated someone this month; each person nominates once a month, "
    "and may again from the 1st of next month.",
}


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_one_nomination_per_person_per_month(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, language: str
) -> None:
    student = await linked(person, invite, STUDENT, language=language)
    chosen = XU_MENG if language == "en" else XU_MENG_ZH
    await nominate(tg, student, chosen, "Tutors maths every week", english=language == "en")
    # A second one is refused at /nominate, before anyone is chosen or any reason written, with
    # the words its Submit would have had.
    assert await student.say("/nominate") == ALREADY[language]
    async with campus.unit_of_work() as session:
        states = (await session.scalars(select(ConversationState.status))).all()
    assert states == [ConversationStatus.DONE]
    assert len(await stored(campus, StarNomination)) == 1


def nobody_eligible(tmp_path: Path) -> Path:
    """The shipped rules, with nobody eligible for the Star (all recently chosen, say)."""
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules, dirs_exist_ok=True)
    access = rules / "access.yaml"
    shipped = access.read_text(encoding="utf-8")
    rule = "when: status == 'party_member' and (same_community ?? false) and not (recent_winner"
    assert shipped.count(rule) == 1
    access.write_text(shipped.replace(rule, "when: false and (recent_winner"), encoding="utf-8")
    return rules


@pytest.mark.parametrize(
    ("language", "refusal"),
    [
        ("zh-CN", "本月没有您可以提名的人。只能提名本社区近期未当选的学生党员。"),
        (
            "en",
            "There is nobody you can nominate this month. Only a student party member of your "
            "community who has not won recently can be nominated.",
        ),
    ],
)
async def test_with_nobody_to_nominate_nominate_says_so_at_once(
    campus: Database,
    tg: FakeTelegram,
    person: Person,
    invite: Invite,
    clock: Clock,
    tmp_path: Path,
    language: str,
    refusal: str,
) -> None:
    async with running(make_application(campus, tg, clock, rules_dir=nobody_eligible(tmp_path))):
        student = await linked(person, invite, STUDENT, language=language)
        assert await student.say("/nominate") == refusal
        assert await student.say("/cancel") in ("现在没有进行中的对话。", "Nothing is in progress.")


async def test_a_nomination_stored_meanwhile_is_refused_at_submit(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/nominate")
    question = await prompt(tg, student)
    await press(tg, student, question, XU_MENG)
    await tg.user_send(student.user, "Tutors maths every week")
    summary = await prompt(tg, student)
    # The same person nominates from elsewhere while this summary waits.
    async with campus.unit_of_work() as session:
        nominator = await repo.person_by_number(session, STUDENT)
        nominee = await repo.person_by_number(session, PARTY_MEMBER)
        assert nominator is not None and nominee is not None
        home = await repo.place_of_room(session, nominator.dorm_room_id)
        assert home is not None
        session.add(
            StarNomination(
                month="2026-09",
                community_id=home.community.id,
                nominator_person_id=nominator.id,
                nominee_person_id=nominee.id,
                reason="From another device",
                created_at=clock(),
            )
        )
    done = await press(tg, student, summary, "✔ Submit")
    assert done.text == ALREADY["en"]
    [kept] = await stored(campus, StarNomination)
    assert isinstance(kept, StarNomination) and kept.reason == "From another device"


async def test_nominations_close_after_the_25th_and_staff_cannot_nominate(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR)
    assert await counsellor.say("/nominate") == ("“每月之星”由学生、入党积极分子和学生党员提名。")
    student = await linked(person, invite, STUDENT)
    # 23:50 on the 25th, campus time: still open when started, closed when submitted.
    clock.now = datetime(2026, 9, 25, 15, 50, tzinfo=UTC)
    await tg.user_send(student.user, "/nominate")
    question = await prompt(tg, student)
    await press(tg, student, question, XU_MENG_ZH)
    await tg.user_send(student.user, "每周在自习室为同学义务辅导高数")
    summary = await prompt(tg, student)
    clock.advance(timedelta(minutes=15))
    done = await press(tg, student, summary, "✔ 提交")
    assert done.text == "本月“每月之星”提名已于 25 日截止，下月 1 日再开放。"
    assert await student.say("/nominate") == "本月“每月之星”提名已于 25 日截止，下月 1 日再开放。"
    assert await stored(campus, StarNomination) == []


async def test_a_nomination_expires_after_its_timeout(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, clock: Clock, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/nominate")
    question = await prompt(tg, student)
    await press(tg, student, question, XU_MENG)
    clock.advance(timedelta(minutes=31))
    assert "expired" in await student.say("Tutors maths every week")
    async with campus.unit_of_work() as session:
        states = (await session.scalars(select(ConversationState.status))).all()
    assert states == [ConversationStatus.EXPIRED]
    assert await stored(campus, StarNomination) == []


async def test_an_expired_button_is_refused_kindly(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/nominate")
    question = await prompt(tg, student)
    assert await student.say("/cancel") == "Cancelled; nothing was submitted."
    await settled(tg, student, question)
    answer = await press_in_flight(tg, student, question, XU_MENG)
    assert answer.text == "This button has expired; please send the command again."
    assert answer.show_alert
    # The list of a conversation started since is the one that counts.
    await tg.user_send(student.user, "/nominate")
    fresh = await prompt(tg, student)
    assert (await press_in_flight(tg, student, question, YANG_LAN)).show_alert
    reason = await press(tg, student, fresh, YANG_LAN)
    assert "Why do you nominate them?" in (reason.text or "")


async def test_a_restart_mid_nomination_resumes_where_it_was(
    campus: Database, tg: FakeTelegram, person: Person, invite: Invite, clock: Clock
) -> None:
    async with running(make_application(campus, tg, clock)):
        student = await linked(person, invite, STUDENT, language="en")
        await tg.user_send(student.user, "/nominate")
        question = await prompt(tg, student)
        await press(tg, student, question, XU_MENG)
    # A new process: nothing in memory survives, only the store.
    async with running(make_application(campus, tg, clock)):
        summary = await prompt_after(tg, student, "Tutors maths for the whole floor")
        assert "Nominee: 徐梦 (Building 1, room 102)" in (summary.text or "")
        done = await press(tg, student, summary, "✔ Submit")
        assert (done.text or "").startswith("You nominated 徐梦")
    assert len(await stored(campus, StarNomination)) == 1


async def prompt_after(tg: FakeTelegram, chat: Chat, text: str) -> FakeMessage:
    """Send ``text`` and return the bot's next new message."""
    await tg.user_send(chat.user, text)
    return await prompt(tg, chat)


async def forged(edge: Edge, chat: Chat, data: str) -> FakeMessage:
    """A message in ``chat``'s private chat with one button carrying ``data``, as a forger
    would make one (or a card forwarded from someone else's chat)."""
    sent = await edge.application.bot.send_message(
        chat.user.id,
        "card",
        reply_markup=InlineKeyboardMarkup.from_button(
            InlineKeyboardButton("?", callback_data=data)
        ),
    )
    return chat.tg.message(chat.user.id, sent.message_id)


async def test_everyone_but_the_service_centre_is_refused_a_pick_and_audited(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT)
    await nominate(tg, student, XU_MENG_ZH, "每周在自习室为同学义务辅导高数")
    [nomination] = await stored(campus, StarNomination)
    assert isinstance(nomination, StarNomination)
    data = f"st:{nomination.id}"
    others = {
        "student": STUDENT,
        "floor_leader": FLOOR_1_LEADER,
        "grid_party_member": FLOOR_1_GRID,
        "dorm_head": "2024010001",
        "counsellor": C1_COUNSELLOR,
        "workstation_head": "T0004",
        "college_party_leader": "T0001",
        "org_department": "T0016",
        "expert": "T0022",
        "admin": "T0027",
    }
    chats = {"student": student}
    for role, number in others.items():
        chat = chats.get(role) or await linked(person, invite, number)
        assert await chat.say("/stars") == REFUSED, role
        for attempt in (data, "st:999999", "st:nonsense"):
            query = await tg.user_press(chat.user, await forged(edge, chat, attempt), attempt)
            answer = await tg.wait_for_callback_answer(query)
            assert answer.text == REFUSED and answer.show_alert, role
    assert await stored(campus, StarAward) == []
    refusals = await audit(campus, "star.refused")
    assert len(refusals) == 3 * len(others)
    assert {r.detail["nomination"] for r in refusals} == {nomination.id, 999999, 0}

    # The Centre's own forged press of an unknown nomination is just an expired button.
    centre = await linked(person, invite, SERVICE_CENTRE, language="en")
    query = await tg.user_press(centre.user, await forged(edge, centre, "st:999999"), "st:999999")
    answer = await tg.wait_for_callback_answer(query)
    assert answer.text == "This button has expired; please send the command again."
    assert await stored(campus, StarAward) == []
    assert len(await audit(campus, "star.refused")) == 3 * len(others)


async def test_an_empty_month_says_so(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    centre = await linked(person, invite, SERVICE_CENTRE, language="en")
    assert (
        await centre.say("/stars")
        == "No one has been nominated for the Star of September 2026 yet."
    )


@pytest.mark.parametrize(
    "language, words",
    [
        (
            "zh-hans",
            {
                "pick": "评选 徐梦",
                "question": "确定评选 徐梦（2023010004，第一社区）为全校 2026 年 9 月"
                "“每月之星”吗？\n全校每月只评选一位，评选结果会立即通知全校，之后不能更改。",
                "sure": "确定评选",
                "back": "返回",
                "chosen": "已评出全校“每月之星”：徐梦",
                "award": "🏅 记录颁奖",
                "already": "全校 2026 年 9 月“每月之星”已经评出：徐梦（第一社区）。",
            },
        ),
        (
            "en",
            {
                "pick": "Pick 徐梦",
                "question": "Make 徐梦 (2023010004, Community 1) the school's Star of September "
                "2026?\nThe school has one Star a month: the whole school hears of it at once, "
                "and it cannot be changed.",
                "sure": "Yes, pick",
                "back": "Back",
                "chosen": "Chosen as the school's Star: 徐梦",
                "award": "🏅 Record the award",
                "already": "The school's Star of September 2026 has already been chosen: 徐梦 "
                "(Community 1).",
            },
        ),
    ],
)
async def test_picking_the_star_asks_once_and_the_yes_is_checked_again(
    edge: Edge,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    campus: Database,
    language: str,
    words: dict[str, str],
) -> None:
    star = await linked(person, invite, FLOOR_1_LEADER)
    student = await linked(person, invite, STUDENT)
    await nominate(tg, student, XU_MENG_ZH, "每周在自习室为同学义务辅导高数")
    [nomination] = await stored(campus, StarNomination)
    assert isinstance(nomination, StarNomination)
    centre = await linked(person, invite, SERVICE_CENTRE, language=language)
    other_centre = await linked(person, invite, SERVICE_CENTRE_2, language=language)
    _, [board], _ = await stars_shown(tg, centre, 1)
    _, [their_board], _ = await stars_shown(tg, other_centre, 1)

    # Pick asks, in the board's own message, and chooses nobody yet.
    question = await asked(tg, centre, board, words["pick"])
    assert question.text == words["question"]
    assert labels(question) == [words["sure"], words["back"]]
    assert await stored(campus, StarAward) == []
    # Back is the board again, with its Pick.
    query = await tg.user_press(centre.user, question, question.button_data(words["back"]))
    assert (await tg.wait_for_callback_answer(query)).text is None
    again = await tg.wait_for_bot_message(
        centre.user.id, predicate=lambda m: m.message_id == board.message_id
    )
    assert again.text == board.text and labels(again) == [words["pick"]]

    # The "yes" is no permission: a student's forged one is refused and recorded.
    data = STAR_SURE.pack(nomination=nomination.id)
    query = await tg.user_press(student.user, await forged(edge, student, data), data)
    assert (await tg.wait_for_callback_answer(query)).text == REFUSED
    assert await stored(campus, StarAward) == []
    assert len(await audit(campus, "star.refused")) == 1

    # Both of the Centre asked; the first "yes" picks, the second is checked again and finds
    # the Star chosen.
    theirs = await asked(tg, other_centre, their_board, words["pick"])
    question = await asked(tg, centre, again, words["pick"])
    query = await tg.user_press(centre.user, question, question.button_data(words["sure"]))
    assert (await tg.wait_for_callback_answer(query)).text is None
    chosen = await tg.wait_for_bot_message(
        centre.user.id, predicate=lambda m: m.message_id == board.message_id
    )
    assert words["chosen"] in (chosen.text or "") and labels(chosen) == [words["award"]]
    assert "🌟" in ((await prompt(tg, star)).text or "")
    query = await tg.user_press(other_centre.user, theirs, theirs.button_data(words["sure"]))
    answer = await tg.wait_for_callback_answer(query)
    assert answer.text == words["already"] and answer.show_alert
    shown = await tg.wait_for_bot_message(
        other_centre.user.id, predicate=lambda m: m.message_id == their_board.message_id
    )
    assert words["chosen"] in (shown.text or "") and labels(shown) == [words["award"]]
    assert len(await stored(campus, StarAward)) == 1


# Nominees as their buttons show them: the name, then the dorm by its name.
XU_MENG, XU_MENG_ZH = "徐梦 (Building 1, room 102)", "徐梦（1号楼 102 室）"
YANG_LAN = "杨兰 (Building 1, room 201)"


@pytest.mark.parametrize(
    ("language", "expected", "refusal"),
    [
        (
            "zh-hans",
            "本社区目前没有可以提名的人选（近期未当选的学生党员），本月暂时无法提名。点“取消”结束。",
            "本月没有您可以提名的人。只能提名本社区近期未当选的学生党员。",
        ),
        (
            "en",
            "There is no one you can nominate this month: no student party member of your "
            "community who has not won recently. Press “Cancel” to stop.",
            "There is nobody you can nominate this month. Only a student party member of your "
            "community who has not won recently can be nominated.",
        ),
    ],
    ids=["zh-CN", "en"],
)
async def test_an_empty_list_of_nominees_is_said_in_words(
    edge: Edge,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    campus: Database,
    language: str,
    expected: str,
    refusal: str,
) -> None:
    english = language == "en"
    student = await linked(person, invite, STUDENT, language=language)
    await tg.user_send(student.user, "/nominate")
    question = await prompt(tg, student)
    reason = await press(tg, student, question, XU_MENG if english else XU_MENG_ZH)
    # Meanwhile nobody of community 1 stays a student party member: back at the question, nobody
    # may be nominated there.
    async with campus.unit_of_work() as session:
        await session.execute(
            update(models.Person)
            .where(models.Person.status == PersonStatus.PARTY_MEMBER)
            .values(status=PersonStatus.ACTIVIST)
        )
    question = await press(tg, student, reason, "« Back" if english else "« 返回")
    assert question.text == expected
    assert len(labels(question)) == 1  # Cancel only
    # Started now, the nomination is refused before its question.
    assert await student.say("/nominate") == refusal
