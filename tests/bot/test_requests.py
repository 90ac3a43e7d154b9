""" "My requests" (/mine) and "pending for me" (/pending), and forged approval buttons."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select

from assistant.app import Edge
from assistant.domain import RequestStatus
from assistant.sandbox import FakeTelegram
from assistant.storage.db import Database
from assistant.storage.models import AuditEntry, Request
from tests.bot.conftest import Chat
from tests.bot.test_booking import to_summary
from tests.bot.test_escalation import report_hygiene
from tests.bot.test_grid_lifecycle import labels
from tests.bot.test_identity import (
    C1_COUNSELLOR,
    FLOOR_1_LEADER,
    STUDENT,
    linked,
    personal_menu,
)
from tests.bot.test_report import press, prompt

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]
ACTIVITY_ROOM = ("Party and League activity room", "Business School Party & League Activity Room")


async def test_mine_and_pending_follow_a_request_to_its_decision(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    assert await student.say("/mine") == (
        "You have not started anything yet. /help lists what you can do."
    )
    assert await counsellor.say("/pending") == "Nothing is waiting for you."

    summary = await to_summary(tg, student, *ACTIVITY_ROOM)
    await press(tg, student, summary, "✔ Submit")
    card = await tg.wait_for_bot_message(counsellor.user.id)
    await report_hygiene(tg, student)
    report_card = await tg.wait_for_bot_message(leader.user.id)

    # One item a line, newest first, rooms by their names.
    assert await student.say("/mine") == (
        "My requests\n"
        "Report R-1 · Hygiene · open\n"
        "Booking B-1 · Business School Party & League Activity Room · Wed 2 Sep 08:00–10:00"
        " · waiting for approval · with the community counsellor"
    )
    assert await counsellor.say("/pending") == (
        "Waiting for me\n"
        "Booking B-1 · Business School Party & League Activity Room · Wed 2 Sep 08:00–10:00"
        " · waiting for approval\n"
        "The card of each follows in our private chat, with its buttons."
    )
    # Every item comes again as its card, with its buttons.
    again = await prompt(tg, counsellor)
    assert (again.text or "").startswith("For your approval: booking B-1\n")
    assert labels(again) == ["✅ Approve", "❌ Reject"]
    assert await leader.say("/pending") == (
        "Waiting for me\n"
        "Report R-1 · Hygiene · open\n"
        "The card of each follows in our private chat, with its buttons."
    )
    issue_again = await prompt(tg, leader)
    assert (issue_again.text or "") == (report_card.text or "")
    assert labels(issue_again) == labels(report_card) and "✅ Resolved" in labels(issue_again)
    # What others started is not in my list.
    assert await student.say("/pending") == "Nothing is waiting for you."

    # The card /pending sent decides, and every card of the request loses its buttons.
    await tg.user_press(counsellor.user, again, again.button_data("✅ Approve"))
    await prompt(tg, student)
    for shown in (card, again):
        decided = await tg.wait_for_bot_message(
            counsellor.user.id, predicate=lambda m, shown=shown: m.message_id == shown.message_id
        )
        assert decided.buttons == []
        assert (decided.text or "").startswith("Approved by 朱晓雪: booking B-1\n")
    assert (
        "Booking B-1 · Business School Party & League Activity Room · Wed 2 Sep 08:00–10:00"
        " · confirmed"
    ) in await student.say("/mine")
    assert await counsellor.say("/pending") == "Nothing is waiting for you."
    # The report's /pending card moves it on like the first one.
    await tg.user_press(leader.user, issue_again, issue_again.button_data("✅ Resolved"))
    await tg.wait_for_bot_message(student.user.id, predicate=lambda m: "resolved" in (m.text or ""))
    assert await leader.say("/pending") == "Nothing is waiting for you."


async def test_people_who_hold_a_role_see_its_commands_in_their_menu(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    theirs, mine = await personal_menu(tg, counsellor), await personal_menu(tg, student)
    for command in ("pending", "apply", "broadcast"):
        assert command in theirs
        assert command not in mine
    # Picking the Star is the Service Centre's, not theirs.
    assert "stars" not in theirs and "mine" in mine


@pytest.mark.parametrize(
    "data",
    ["ap:1:1:a", "ap:1:1:r", "ap:²:1:a", "ap:1:٣:r", "ap:99999999999:1:a", "ap:1:1:x", "ap::::"],
)
async def test_forged_approval_buttons_are_refused_or_expired(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, data: str
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    summary = await to_summary(tg, student, *ACTIVITY_ROOM)
    await press(tg, student, summary, "✔ Submit")
    await tg.wait_for_bot_message(counsellor.user.id)
    tg.inject_update(
        {
            "callback_query": {
                "id": "forged-1",
                "from": {"id": student.user.id, "is_bot": False, "first_name": "x"},
                "chat_instance": "1",
                "message": {
                    "message_id": 1,
                    "date": 1,
                    "chat": {"id": student.user.id, "type": "private"},
                },
                "data": data,
            }
        }
    )
    # Updates of one chat are handled in order: once this is answered, the press was judged.
    assert "Community Assistant can do this" in await student.say("/help")
    async with campus.unit_of_work() as session:
        audited = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "approval.refused"))
        )
        request = await session.get(Request, 1)
    assert len(audited) == (1 if data in ("ap:1:1:a", "ap:1:1:r") else 0)
    assert request is not None and request.status is RequestStatus.PENDING


# What each person reads about booking B-2, whose request is request 1 (booking B-1, a reading
# room, needed no approval): the same reference everywhere, and what the decision is about.
ONE_NUMBER = {
    "zh-hans": {
        "kinds": ("阅览室", "1号楼阅览室", "党团活动室", "商学院党团活动室"),
        "buttons": ("✔ 提交", "❌ 驳回"),
        "sent": "已提交预约申请 B-2：商学院党团活动室，9月2日（周三）10:00–12:00。\n"
        "这个时段已为您保留，等待社区辅导员审批，结果会通知您。可用 /bookings 查看或取消。",
        "card": "待您审批：预约 B-2\n申请人：郑博嘉\n功能房：商学院党团活动室\n"
        "时间：9月2日（周三）10:00–12:00\n用途：Class meeting\n人数：12",
        "pending": "待我处理\n预约 B-2 · 商学院党团活动室 · 9月2日（周三）10:00–12:00 · 待审批\n"
        "每一项的卡片随后发到您的私聊，可直接在卡片上处理。",
        "ask": "驳回申请\n\n请输入驳回预约 B-2 的理由，申请人会看到这段说明。",
        "reason": "这间活动室当天在粉刷",
        "confirm": "确认驳回预约 B-2？\n理由：这间活动室当天在粉刷",
        "rejected": "已驳回预约 B-2（商学院党团活动室，9月2日（周三）10:00–12:00），"
        "已将理由告知申请人。",
        "decided": "朱晓雪已驳回：预约 B-2\n申请人：郑博嘉\n功能房：商学院党团活动室\n"
        "时间：9月2日（周三）10:00–12:00\n用途：Class meeting\n人数：12\n"
        "理由：这间活动室当天在粉刷",
        "news": "您的预约 B-2 未通过。\n功能房：商学院党团活动室\n时间：9月2日（周三）10:00–12:00\n"
        "用途：Class meeting\n人数：12\n理由：这间活动室当天在粉刷",
        "bookings": "我的预约\nB-1 · 1号楼阅览室 · 9月2日（周三）08:00–10:00 · 已确认",
        "mine": "我的事项\n预约 B-2 · 商学院党团活动室 · 9月2日（周三）10:00–12:00 · 未通过\n"
        "预约 B-1 · 1号楼阅览室 · 9月2日（周三）08:00–10:00 · 已确认",
    },
    "en": {
        "kinds": ("Reading room", "Building 1 Reading Room", *ACTIVITY_ROOM),
        "buttons": ("✔ Submit", "❌ Reject"),
        "sent": "Booking request B-2 sent: Business School Party & League Activity Room, "
        "Wed 2 Sep 10:00–12:00.\nThe slot is held for you while the community counsellor "
        "decides; you will be told. /bookings shows or cancels it.",
        "card": "For your approval: booking B-2\nFrom: 郑博嘉\n"
        "Room: Business School Party & League Activity Room\nTime: Wed 2 Sep 10:00–12:00\n"
        "Purpose: Class meeting\nAttendees: 12",
        "pending": "Waiting for me\nBooking B-2 · Business School Party & League Activity Room"
        " · Wed 2 Sep 10:00–12:00 · waiting for approval\n"
        "The card of each follows in our private chat, with its buttons.",
        "ask": "Reject a request\n\n"
        "Why reject booking B-2? Type the reason; the applicant will see it.",
        "reason": "The room is being painted that day",
        "confirm": "Reject booking B-2?\nReason: The room is being painted that day",
        "rejected": "Booking B-2 (Business School Party & League Activity Room, Wed 2 Sep "
        "10:00–12:00) was declined; the applicant has been told why.",
        "decided": "Rejected by 朱晓雪: booking B-2\nFrom: 郑博嘉\n"
        "Room: Business School Party & League Activity Room\nTime: Wed 2 Sep 10:00–12:00\n"
        "Purpose: Class meeting\nAttendees: 12\nReason: The room is being painted that day",
        "news": "Your booking B-2 was declined.\n"
        "Room: Business School Party & League Activity Room\nTime: Wed 2 Sep 10:00–12:00\n"
        "Purpose: Class meeting\nAttendees: 12\nReason: The room is being painted that day",
        "bookings": "My bookings\n"
        "B-1 · Building 1 Reading Room · Wed 2 Sep 08:00–10:00 · confirmed",
        "mine": "My requests\n"
        "Booking B-2 · Business School Party & League Activity Room · Wed 2 Sep 10:00–12:00"
        " · declined\n"
        "Booking B-1 · Building 1 Reading Room · Wed 2 Sep 08:00–10:00 · confirmed",
    },
}


@pytest.mark.parametrize("language", sorted(ONE_NUMBER))
async def test_a_booking_is_called_the_same_in_every_message_to_everyone(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, language: str
) -> None:
    said = ONE_NUMBER[language]
    reading_kind, reading, activity_kind, activity = said["kinds"]
    submit, reject = said["buttons"]
    counsellor = await linked(person, invite, C1_COUNSELLOR, language=language)
    student = await linked(person, invite, STUDENT, language=language)
    await press(tg, student, await to_summary(tg, student, reading_kind, reading), submit)
    summary = await to_summary(tg, student, activity_kind, activity, slot="10:00–12:00")
    assert (await press(tg, student, summary, submit)).text == said["sent"]

    card = await tg.wait_for_bot_message(counsellor.user.id)
    assert card.text == said["card"]
    assert await counsellor.say("/pending") == said["pending"]
    await prompt(tg, counsellor)  # the card again
    await tg.user_press(counsellor.user, card, card.button_data(reject))
    assert (await prompt(tg, counsellor)).text == said["ask"]
    assert await counsellor.say(said["reason"]) == said["confirm"]
    confirm = tg.messages(counsellor.user.id)[-1]
    assert (await press(tg, counsellor, confirm, submit)).text == said["rejected"]
    decided = await tg.wait_for_bot_message(
        counsellor.user.id,
        predicate=lambda m: m.message_id == card.message_id and m.edit_date is not None,
    )
    assert decided.text == said["decided"] and decided.buttons == []

    assert (await prompt(tg, student)).text == said["news"]
    assert await student.say("/bookings") == said["bookings"]
    assert await student.say("/mine") == said["mine"]
