"""Activities through the running bot: the owners of a fixed activity reminded to schedule it;
an activity organised in /activity, its room booked with it and its announcement sent to its
audience; sign-up in press order with a waiting list, nobody twice; a cancelled place offered to
the first waiting; reminders; check-in inside its window only and only opened by the organiser;
no-shows, ratings and the organiser's summary; /myactivities and its calendar file, which the
sandbox's web chat offers for download as it was sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy import select

from assistant.app import Edge, running
from assistant.domain import BookingStatus, SignupStatus
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import FakeMessage, FakeUser
from assistant.sandbox.webchat import SandboxPerson, Suggestion, WebChat
from assistant.storage.db import Database
from assistant.storage.models import Activity, ActivitySignup, Booking
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import linked
from tests.bot.test_report import press, prompt

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


# Organising, signing up, the waiting list ---------------------------------------------------

# Everyone living on floor 3 of building B1 (rooms B1-301 and B1-302); the floor leader too.
FLOOR_3 = ["2022010002", "2022010003", "2022010004", "2022010005", "2023010006"]
C1_COUNSELLOR = "T0005"


def labels(message: FakeMessage) -> list[str]:
    return [b["text"] for row in message.buttons for b in row]


async def organise(
    tg: FakeTelegram,
    organiser: Chat,
    *,
    capacity: int = 2,
    attendance: str = "A check-in button",
    where: str = "Growth Service Centre",
    holds: int = 20,
) -> FakeMessage:
    """Walk /activity as ``organiser`` (in English): a party-history quiz at the Growth Service
    Centre tomorrow 10:00-12:00, for floor B1-3, to each person, sign-up closing 3 hours
    before; returns the last answer (after Submit)."""
    await tg.user_send(organiser.user, "/activity")
    kind = await prompt(tg, organiser)
    assert (kind.text or "").startswith("Organise an activity\n\nWhich activity is it?")
    assert labels(kind)[:2] == ["Badge ceremony", "Dorm Cup basketball"]
    title = await press(tg, organiser, kind, "Party-history quiz")
    assert "✔ Party-history quiz" in labels(title)
    place_kind = await press(tg, organiser, title, "✔ Party-history quiz")
    room = await press(tg, organiser, place_kind, "A room (booked here)")
    assert where in labels(room)
    date = await press(tg, organiser, room, where)
    assert (date.text or "").startswith("Which day? Up to 14 days ahead")
    await tg.user_send(organiser.user, "2026-09-02")
    slot = await prompt(tg, organiser)
    capacity_step = await press(tg, organiser, slot, "10:00–12:00")
    assert f"this room holds {holds} at most" in (capacity_step.text or "")
    await tg.user_send(organiser.user, str(capacity))
    level = await prompt(tg, organiser)
    assert labels(level)[:4] == ["A floor", "A building", "A community", "A grid cell"]
    scope = await press(tg, organiser, level, "A floor")
    who = await press(tg, organiser, scope, "Building 1, floor 3")
    channels = await press(tg, organiser, who, "Everyone living there")
    deadline = await press(tg, organiser, channels, "To each person")
    # It starts tomorrow at 10:00; it is 16:00 now: a day or more before is already past.
    assert labels(deadline)[:2] == ["1 hour before", "3 hours before"]
    attendance_step = await press(tg, organiser, deadline, "3 hours before")
    summary = await press(tg, organiser, attendance_step, attendance)
    assert summary.text is not None and summary.text.startswith("Please confirm the activity:")
    assert f"Where: {where}" in summary.text
    assert "For: Building 1, floor 3 · Everyone living there\nAnnounced: To each person" in (
        summary.text
    )
    return await press(tg, organiser, summary, "✔ Submit")


async def announcement(tg: FakeTelegram, chat: Chat) -> FakeMessage:
    return await tg.wait_for_bot_message(
        chat.user.id, predicate=lambda m: bool({"✋ Sign up", "✋ 报名"} & set(labels(m)))
    )


async def sign_up(tg: FakeTelegram, chat: Chat, message: FakeMessage) -> str:
    """Press Sign up; the popup's words."""
    button = next(b for b in labels(message) if "Sign up" in b or "报名" in b)
    query = await tg.user_press(chat.user, message, message.button_data(button))
    answer = await tg.wait_for_callback_answer(query)
    return answer.text or ""


async def test_an_activity_is_organised_announced_and_signed_up_for_in_press_order(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    organiser = await linked(person, invite, C1_COUNSELLOR, language="en")
    residents = [await linked(person, invite, number, language="en") for number in FLOOR_3]
    elsewhere = await linked(person, invite, "2023010001", language="en")  # B1-101
    done = await organise(tg, organiser)
    assert done.text == (
        "Announced activity E-1 “Party-history quiz”: Wed 2 Sep 10:00–12:00, Growth Service "
        "Centre. The invitation is going out to Building 1, floor 3 (5 messages).\n"
        "Send /myactivities to see who signed up, and to open check-in when it starts."
    )
    invitations = [await announcement(tg, chat) for chat in residents]
    assert invitations[0].text == (
        "📣 Party-history quiz (activity E-1)\n"
        "When: Wed 2 Sep 10:00–12:00\n"
        "Where: Growth Service Centre\n"
        "Places: 2, then a waiting list\n"
        "Sign-up closes: Wed 2 Sep 07:00\n"
        "Organiser: 朱晓雪\n\n"
        "Press the button below to sign up: first come, first served."
    )
    assert not any("Sign up" in " ".join(labels(m)) for m in tg.messages(elsewhere.user.id))
    # The room is booked for it, by its organiser, in the same transaction.
    async with campus.unit_of_work() as session:
        [booking] = (await session.scalars(select(Booking))).all()
        [activity] = (await session.scalars(select(Activity))).all()
    assert (booking.status, booking.purpose) == (BookingStatus.CONFIRMED, "Party-history quiz")
    assert activity.booking_id == booking.id

    assert await sign_up(tg, residents[0], invitations[0]) == "Signed up (place 1)"
    assert await sign_up(tg, residents[1], invitations[1]) == "Signed up (place 2)"
    assert await sign_up(tg, residents[2], invitations[2]) == (
        "Full: you are number 1 on the waiting list"
    )
    assert await sign_up(tg, residents[3], invitations[3]) == (
        "Full: you are number 2 on the waiting list"
    )
    # Nobody signs up twice: a second press says where they stand.
    assert await sign_up(tg, residents[0], invitations[0]) == (
        "You have already signed up for this."
    )
    assert await sign_up(tg, residents[3], invitations[3]) == (
        "Full: you are number 2 on the waiting list"
    )
    confirmation = await tg.wait_for_bot_message(
        residents[0].user.id, predicate=lambda m: (m.text or "").startswith("✅")
    )
    assert labels(confirmation) == ["Cancel my sign-up", "📅 Add to calendar"]
    waiting = await tg.wait_for_bot_message(
        residents[2].user.id, predicate=lambda m: (m.text or "").startswith("⏳")
    )
    assert "you are number 1 on the waiting list" in (waiting.text or "")
    async with campus.unit_of_work() as session:
        rows = (
            await session.execute(
                select(ActivitySignup.status, ActivitySignup.position).order_by(
                    ActivitySignup.position
                )
            )
        ).all()
    assert rows == [
        (SignupStatus.SIGNED_UP, 1),
        (SignupStatus.SIGNED_UP, 2),
        (SignupStatus.WAITING, 3),
        (SignupStatus.WAITING, 4),
    ]


# 2 September 2026 on campus (UTC+8): the quiz runs 10:00-12:00.
STARTS = datetime(2026, 9, 2, 2, 0, tzinfo=UTC)


async def toast(tg: FakeTelegram, chat: Chat, message: FakeMessage, label: str) -> str:
    """Press ``label`` under ``message``; the popup's words."""
    query = await tg.user_press(chat.user, message, message.button_data(label))
    return (await tg.wait_for_callback_answer(query)).text or ""


async def listing(tg: FakeTelegram, chat: Chat) -> FakeMessage:
    await tg.user_send(chat.user, "/myactivities")
    heads = ("我的活动", "My activities", "您目前没有", "You have no")
    return await tg.wait_for_bot_message(
        chat.user.id,
        predicate=lambda m: m.edit_date is None and (m.text or "").startswith(heads),
    )


async def test_a_confirmed_offer_is_confirmed_in_writing_with_the_place_and_calendar(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram
) -> None:
    organiser = await linked(person, invite, C1_COUNSELLOR, language="en")
    first, second = [await linked(person, invite, number) for number in FLOOR_3[:2]]
    await organise(tg, organiser, capacity=1)
    for chat in (first, second):
        await sign_up(tg, chat, await announcement(tg, chat))
    mine = await listing(tg, first)
    await tg.user_press(first.user, mine, mine.button_data("E-1 · 取消报名"))
    asked = await tg.wait_for_bot_message(
        first.user.id, predicate=lambda m: m.message_id == mine.message_id
    )
    assert await toast(tg, first, asked, "确定取消") == "已取消报名。"
    offer = await tg.wait_for_bot_message(
        second.user.id, predicate=lambda m: (m.text or "").startswith("🎉")
    )
    assert await toast(tg, second, offer, "✔ 确认参加") == "已确认，名额保留给您。"
    confirmed = await tg.wait_for_bot_message(
        second.user.id,
        predicate=lambda m: (m.text or "").startswith("✅") and m.message_id > offer.message_id,
    )
    assert "第 1 个名额（共 1 个）" in (confirmed.text or "")
    assert labels(confirmed) == ["取消报名", "📅 加入日历"]


async def test_a_place_given_up_goes_down_the_waiting_list_then_check_in_and_ratings(
    edge: Edge,
    person: Person_,
    invite: Invite,
    tg: FakeTelegram,
    clock: Clock,
    campus: Database,
) -> None:
    organiser = await linked(person, invite, C1_COUNSELLOR, language="en")
    first, second, third, fourth = [await linked(person, invite, number) for number in FLOOR_3[:4]]
    await organise(tg, organiser)
    for chat in (first, second, third, fourth):
        await sign_up(tg, chat, await announcement(tg, chat))

    # The second gives up their place in /myactivities: Cancel asks first.
    mine = await listing(tg, second)
    assert mine.text == (
        "我的活动\nE-1 · Party-history quiz · 9月2日（周三）10:00–12:00 · 成长服务中心 · 已报名"
    )
    assert labels(mine) == ["E-1 · 取消报名", "E-1 · 📅 加入日历"]
    await tg.user_press(second.user, mine, mine.button_data("E-1 · 取消报名"))
    asked = await tg.wait_for_bot_message(
        second.user.id, predicate=lambda m: m.message_id == mine.message_id
    )
    assert (asked.text or "").startswith("确定取消报名活动 E-1“Party-history quiz”")
    assert await toast(tg, second, asked, "确定取消") == "已取消报名。"
    # The place is offered to the first waiting, who declines: it goes on to the next.
    offer = await tg.wait_for_bot_message(
        third.user.id, predicate=lambda m: (m.text or "").startswith("🎉")
    )
    assert "请在 9月2日（周三）04:00 前点“确认参加”" in (offer.text or "")
    assert await toast(tg, third, offer, "不参加了") == "已放弃名额，将递补给下一位。"
    offer = await tg.wait_for_bot_message(
        fourth.user.id, predicate=lambda m: (m.text or "").startswith("🎉")
    )
    # Twelve hours, but never past the start: 10:00 tomorrow.
    assert "请在 9月2日（周三）04:00 前" in (offer.text or "")
    # Nobody confirms in time: the offer lapses and nobody is left waiting.
    clock.now = datetime(2026, 9, 1, 20, 30, tzinfo=UTC)
    await edge.scheduler.run_due()
    lapsed = await tg.wait_for_bot_message(
        fourth.user.id, predicate=lambda m: "没有按时确认" in (m.text or "")
    )
    assert lapsed.text == "活动 E-1“Party-history quiz”空出的名额您没有按时确认，已递补给下一位。"
    assert await toast(tg, fourth, offer, "✔ 确认参加") == "已经过了截止时间。"
    # A place is free again: the second signs up anew and takes it.
    assert (
        await sign_up(tg, second, await announcement_again(tg, second)) == "已报名（第 2 个名额）"
    )

    # The calendar file, sent as a document.
    confirmation = await tg.wait_for_bot_message(
        first.user.id, predicate=lambda m: (m.text or "").startswith("✅")
    )
    assert await toast(tg, first, confirmation, "📅 加入日历") == ""
    document = await tg.wait_for_bot_message(
        first.user.id, predicate=lambda m: m.document is not None
    )
    assert document.document is not None and document.document["file_name"] == "activity-1.ics"
    ics = tg.state.files[document.document["file_id"]].data.decode()
    assert "SUMMARY:Party-history quiz" in ics and "DTSTART:20260902T020000Z" in ics
    assert "LOCATION:成长服务中心" in ics

    # An hour before: those with a place are reminded.
    clock.now = STARTS - timedelta(hours=1)
    await edge.scheduler.run_due()
    for chat in (first, second):
        reminder = await tg.wait_for_bot_message(
            chat.user.id, predicate=lambda m: (m.text or "").startswith("⏰")
        )
        assert reminder.text is not None and reminder.text.startswith(
            "⏰ 一小时后就是活动 E-1“Party-history quiz”。"
        )
    # The organiser cannot open check-in that early; twenty minutes before, they can.
    mine = await listing(tg, organiser)
    assert labels(mine) == ["E-1 · Open check-in"]
    assert "organised by you: 2/2 signed up, 0 waiting" in (mine.text or "")
    assert await toast(tg, organiser, mine, "E-1 · Open check-in") == (
        "Too early: check-in opens shortly before the activity starts."
    )
    clock.now = STARTS - timedelta(minutes=20)
    assert await toast(tg, organiser, mine, "E-1 · Open check-in") == "Check-in is open."
    buttons = [
        await tg.wait_for_bot_message(chat.user.id, predicate=lambda m: "✅ 签到" in labels(m))
        for chat in (first, second)
    ]
    assert await toast(tg, first, buttons[0], "✅ 签到") == "签到成功！"
    # The second comes too late: check-in closes when the activity ends.
    clock.now = STARTS + timedelta(hours=2, minutes=1)
    assert await toast(tg, second, buttons[1], "✅ 签到") == "已经过了截止时间。"

    # It ends: a no-show recorded, the one who came asked to rate it, the organiser told.
    await edge.scheduler.run_due()
    thanks = await tg.wait_for_bot_message(
        first.user.id, predicate=lambda m: (m.text or "").startswith("感谢您参加")
    )
    report = await tg.wait_for_bot_message(
        organiser.user.id, predicate=lambda m: (m.text or "").startswith("📋")
    )
    assert report.text == (
        "📋 activity E-1 “Party-history quiz” is over.\n"
        "Places: 2\n"
        "Checked in: 1, absent: 1\n"
        "Still waiting: 0, cancelled: 2\n"
        "Rating: none yet\n\n"
        "Press the button below to record a summary and a photo, for the year's evaluation."
    )
    assert not any((m.text or "").startswith("感谢您参加") for m in tg.messages(second.user.id))
    rating = await press(tg, first, thanks, "评价活动")
    assert (rating.text or "").startswith("活动评价\n\n您觉得这次活动怎么样？")
    comment = await press(tg, first, rating, "★★★★★ 很好")
    await tg.user_send(first.user, "题目很有意思")
    confirm = await prompt(tg, first)
    done = await press(tg, first, confirm, "✔ 提交")
    assert done.text == "谢谢您的评价（5 分）！"
    del comment
    # The second, absent, may not rate it.
    async with campus.unit_of_work() as session:
        statuses = dict(
            (await session.execute(select(ActivitySignup.person_id, ActivitySignup.status))).all()
        )
    assert sorted(statuses.values()) == sorted(
        [
            SignupStatus.ATTENDED,
            SignupStatus.NO_SHOW,
            SignupStatus.CANCELLED,
            SignupStatus.CANCELLED,
        ]
    )

    await tg.user_press(organiser.user, report, report.button_data("Record a summary"))
    summary = await tg.wait_for_bot_message(
        organiser.user.id, predicate=lambda m: (m.text or "").startswith("Activity summary")
    )
    assert (summary.text or "").startswith("Activity summary\n\nWhat happened")
    await tg.user_send(organiser.user, "Twenty questions, two teams, a lively hour.")
    photo = await tg.wait_for_bot_message(
        organiser.user.id, predicate=lambda m: (m.text or "").startswith("Send a photo")
    )
    confirm = await answered(tg, organiser, photo, "Skip", "Please confirm the summary")
    saved = await answered(tg, organiser, confirm, "✔ Submit", "The summary")
    assert saved.text == (
        "The summary of activity E-1 “Party-history quiz” is saved.\n"
        "Places: 2\n"
        "Checked in: 1, absent: 1\n"
        "Still waiting: 0, cancelled: 2\n"
        "Rating: 5.0 (1 ratings)"
    )


async def answered(
    tg: FakeTelegram, chat: Chat, message: FakeMessage, label: str, head: str
) -> FakeMessage:
    """Press ``label``; the next new message starting with ``head`` (the organiser's booking
    has messages of its own meanwhile)."""
    await tg.user_press(chat.user, message, message.button_data(label))
    return await tg.wait_for_bot_message(
        chat.user.id, predicate=lambda m: m.edit_date is None and (m.text or "").startswith(head)
    )


async def announcement_again(tg: FakeTelegram, chat: Chat) -> FakeMessage:
    """The announcement already in the person's chat, as it stands."""
    return next(m for m in tg.messages(chat.user.id) if "✋ 报名" in labels(m))


class NobodyToPick:
    """A web chat's people for a test that reads it as people the bot already knows."""

    async def list_people(self) -> list[SandboxPerson]:
        return []

    async def suggestions(self) -> list[Suggestion]:
        return []

    async def become(self, key: str) -> FakeUser:
        raise KeyError(key)


async def test_the_calendar_file_downloads_from_the_web_chat_as_sent(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram
) -> None:
    organiser = await linked(person, invite, C1_COUNSELLOR, language="en")
    resident = await linked(person, invite, FLOOR_3[0])
    await organise(tg, organiser)
    await sign_up(tg, resident, await announcement(tg, resident))
    mine = await listing(tg, resident)
    assert await toast(tg, resident, mine, "E-1 · 📅 加入日历") == ""
    sent = await tg.wait_for_bot_message(resident.user.id, predicate=lambda m: bool(m.document))
    assert sent.document is not None
    calendar = tg.state.files[sent.document["file_id"]].data
    assert b"SUMMARY:Party-history quiz" in calendar

    webchat = WebChat(tg, NobodyToPick())
    url = await webchat.start(port=0)
    chat = f"{url}/api/users/{resident.user.id}/chats/{resident.user.id}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{chat}/messages") as response:
                messages = (await response.json())["messages"]
            [document] = [m["document"] for m in messages if "document" in m]
            assert document["file_name"] == "activity-1.ics"
            assert document["file_size"] == len(calendar)
            async with http.get(f"{url}/api/files/{document['file_id']}") as response:
                assert await response.read() == calendar
                assert response.headers["Content-Type"] == "text/calendar"
                assert response.content_disposition is not None
                assert response.content_disposition.filename == "activity-1.ics"
    finally:
        await webchat.stop()


async def test_a_code_shown_in_the_room_checks_people_in_through_its_deep_link(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram, clock: Clock
) -> None:
    organiser = await linked(person, invite, C1_COUNSELLOR, language="en")
    first, second = [await linked(person, invite, number) for number in FLOOR_3[:2]]
    await organise(tg, organiser, attendance="A code shown in the room (QR)")
    for chat in (first, second):
        await sign_up(tg, chat, await announcement(tg, chat))
    clock.now = STARTS - timedelta(minutes=10)
    mine = await listing(tg, organiser)
    assert await toast(tg, organiser, mine, "E-1 · Open check-in") == "Check-in is open."
    shown = await tg.wait_for_bot_message(organiser.user.id, predicate=lambda m: bool(m.photo))
    caption = shown.caption or ""
    assert caption.startswith("Check-in for activity E-1 “Party-history quiz” is open.")
    code = caption.rsplit("Its code is ", 1)[1].rstrip(".")
    assert len(code) == 6 and code.isalnum()
    assert shown.photo is not None
    png = tg.state.files[shown.photo[-1]["file_id"]].data
    assert png.startswith(b"\x89PNG")
    # Participants get no button: the code is the check-in.
    for chat in (first, second):
        await tg.wait_for_bot_message(
            chat.user.id, predicate=lambda m: (m.text or "").startswith("✅ 您已报名")
        )
    assert not any("✅ 签到" in labels(m) for m in tg.messages(first.user.id))
    assert await first.say(f"/start ci-1-{code}") == "✅ 您已在活动 E-1“Party-history quiz”签到。"
    assert await first.say(f"/start ci-1-{code}") == "签到没有成功：您已经签过到了。"
    assert await second.say("/start ci-1-AAAAAA") == (
        "签到没有成功：这个签到链接不对，或您没有这项活动的名额。"
    )
    clock.now = STARTS + timedelta(hours=2, minutes=1)
    assert await second.say(f"/start ci-1-{code}") == "签到没有成功：签到已经结束。"


async def test_a_room_that_needs_approval_holds_the_announcement_until_approved(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    head = await linked(person, invite, "T0004", language="en")  # C1's workstation head
    organiser = await linked(person, invite, C1_COUNSELLOR, language="en")
    resident = await linked(person, invite, FLOOR_3[0], language="en")
    done = await organise(
        tg,
        organiser,
        where="Business School Party & League Activity Room",
        holds=50,
    )
    assert (done.text or "").startswith("Created activity E-1 “Party-history quiz”")
    assert "once approved, the activity is announced to Building 1, floor 3" in (done.text or "")
    assert not any(labels(m) for m in tg.messages(resident.user.id) if "Sign up" in str(labels(m)))
    # The counsellor cannot approve their own booking: it goes to the workstation head.
    card = await tg.wait_for_bot_message(
        head.user.id, predicate=lambda m: "✅ Approve" in labels(m)
    )
    query = await tg.user_press(head.user, card, card.button_data("✅ Approve"))
    await tg.wait_for_callback_answer(query)
    await edge.ticker.run_once()
    invitation = await announcement(tg, resident)
    assert (invitation.text or "").startswith("📣 Party-history quiz (activity E-1)")
    told = await tg.wait_for_bot_message(
        organiser.user.id, predicate=lambda m: "was approved" in (m.text or "")
    )
    assert told.text == (
        "The room for activity E-1 “Party-history quiz” was approved: the activity is "
        "announced and the invitations are going out."
    )
    assert await sign_up(tg, resident, invitation) == "Signed up (place 1)"
