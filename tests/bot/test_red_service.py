"""The Red Service Team through the running bot: a student asks, two volunteers press "I'll help"
at once and one gets it, the student marks it done and thanks, the hours are recorded; a request
nobody takes goes to the team leader and lapses when its time is over; a team nobody can reach
sends it straight up; and no forged press takes, or finishes, anything."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from assistant.app import Edge
from assistant.domain import ServiceStatus
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import CallbackAnswer, FakeCallbackQuery
from assistant.services.red_service import RED_SERVICE
from assistant.storage.db import Database
from assistant.storage.models import Firing, FiringStatus, Person, ServiceRequest
from tests.bot.conftest import Chat, Clock
from tests.bot.test_duty import at, audits, campus_time, labels
from tests.bot.test_identity import STUDENT, linked
from tests.bot.test_report import press, prompt

Invite = Callable[[str], Awaitable[str]]
People = Callable[..., Chat]

# Community 1 (building B1): two volunteers who link, one who never does, the team leader.
LI, ZHOU, ZHU, LEADER = "2021010004", "2024010004", "2021010005", "2023010009"
# Community 2 (building B2): a volunteer and the leader; and a student living there.
C2_VOLUNTEER, C2_LEADER, C2_STUDENT = "2021010008", "2023010011", "2023010012"
# 杜阳豪, the student's roommate: no role at all.
ROOMMATE = "2023010002"


async def ask(tg: FakeTelegram, student: Chat, said: dict[str, str], day: str, window: str) -> Any:
    """Walk /service to its receipt: a phone, the text given, ``day`` typed, ``window`` pressed,
    the student's dorm; returns the receipt."""
    await tg.user_send(student.user, "/service")
    kind = await prompt(tg, student)
    detail = await press(tg, student, kind, said["phone"])
    assert said["detail_question"] in (detail.text or "")
    await tg.user_send(student.user, said["detail"])
    when = await prompt(tg, student)
    assert said["day_question"] in (when.text or "")
    await tg.user_send(student.user, day)
    windows = await prompt(tg, student)
    place = await press(tg, student, windows, window)
    summary = await press(tg, student, place, said["dorm"])
    assert summary.text == said["summary"]
    return await press(tg, student, summary, said["submit"])


async def requests(db: Database) -> list[ServiceRequest]:
    async with db.unit_of_work() as session:
        return list(await session.scalars(select(ServiceRequest).order_by(ServiceRequest.id)))


async def pending_firings(db: Database) -> list[str]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(
            select(Firing.key).where(Firing.key.like("rs:%"), Firing.status == FiringStatus.PENDING)
        )
        return sorted(rows.all())


async def forged(tg: FakeTelegram, chat: Chat, data: str) -> CallbackAnswer:
    """A press of a button ``chat`` was never sent, on the bot's latest message to them; the
    bot's answer to it."""
    message = [m for m in tg.messages(chat.user.id) if m.from_bot][-1]
    query = FakeCallbackQuery(
        id=str(4_200_000_000_000_000 + tg.state.unique_number()),
        user=chat.user,
        message=message,
        data=data,
        created_at=tg.state.clock(),
    )
    tg.state.callback_queries[query.id] = query
    tg.state.enqueue_update(
        "callback_query",
        {
            "id": query.id,
            "from": chat.user.to_json(),
            "message": message.to_json(),
            "chat_instance": message.chat.instance,
            "data": data,
        },
    )
    return await tg.wait_for_callback_answer(query.id)


async def edited(tg: FakeTelegram, chat: Chat, message_id: int, contains: str) -> Any:
    """``message_id`` of ``chat`` once an edit made it say ``contains``."""
    await tg.wait_until(lambda: contains in (tg.message(chat.user.id, message_id).text or ""))
    return tg.message(chat.user.id, message_id)


ZH = {
    "phone": "手机维修",
    "detail_question": "请简单说明情况",
    "detail": "手机屏幕碎了，无法开机",
    "day_question": "可约今天起 7 天内的日子",
    "dorm": "✔ 1号楼 101 室",
    "summary": (
        "请确认您的求助：\n事项：手机维修\n说明：手机屏幕碎了，无法开机\n"
        "时间：9月14日（周一）晚上 18:30–21:30\n地点：1号楼 101 室"
    ),
    "submit": "✔ 提交",
}


async def test_the_first_of_two_volunteers_takes_it_and_the_student_thanks_them(
    edge: Edge,
    campus: Database,
    tg: FakeTelegram,
    clock: Clock,
    person: People,
    invite: Invite,
) -> None:
    # Monday morning on campus.
    at(clock, campus_time("2026-09-14", "09:00"))
    li, zhou = await linked(person, invite, LI), await linked(person, invite, ZHOU)
    leader = await linked(person, invite, LEADER)
    elsewhere = await linked(person, invite, C2_VOLUNTEER)
    student = await linked(person, invite, STUDENT)

    receipt = await ask(tg, student, ZH, "今天", "晚上 18:30–21:30")
    # Asked for today: the same-day route gives the volunteers two hours.
    assert receipt.text == (
        "已提交求助 H-1（手机维修，9月14日（周一）晚上 18:30–21:30）。\n"
        "已发给第一社区红色服务队的 2 位志愿者，先接单的志愿者会来帮您，有人接单后会通知您。\n"
        "如 9月14日（周一）11:00 前无人接单，将转给红色服务队队长。"
    )
    li_card, zhou_card = await prompt(tg, li), await prompt(tg, zhou)
    for card in (li_card, zhou_card):
        # Before anyone takes it, nobody reads who asked or their room.
        assert card.text == (
            "🔧 红色服务队求助 H-1\n"
            "手机维修 · 9月14日（周一）晚上 18:30–21:30 · 1号楼\n"
            "说明：手机屏幕碎了，无法开机\n"
            "先点“我来帮忙”的人接单。"
        )
        assert labels(card) == ["我来帮忙"]
    for other in (leader, elsewhere):
        assert tg.state.bot_outbox.get(other.user.id, []) == [], "not offered to them"

    # Both press at once: the store decides, once.
    first = await tg.user_press(li.user, li_card, li_card.button_data("我来帮忙"))
    second = await tg.user_press(zhou.user, zhou_card, zhou_card.button_data("我来帮忙"))
    answers = {
        (await tg.wait_for_callback_answer(first)).text,
        (await tg.wait_for_callback_answer(second)).text,
    }
    [request] = await requests(campus)
    assert request.volunteer_person_id is not None
    async with campus.unit_of_work() as session:
        taker = await session.get(Person, request.volunteer_person_id)
    assert taker is not None and taker.number in (LI, ZHOU)
    assert answers == {"已接单，谢谢您！请按时前往。", f"这个求助已由{taker.name}接单。"}
    (winner, winner_card), (loser, loser_card) = sorted(
        [(li, li_card), (zhou, zhou_card)], key=lambda pair: pair[0].user.first_name != taker.number
    )
    mine = await edited(tg, winner, winner_card.message_id, "您已接下")
    # Only the volunteer who took it reads who asked and where.
    assert mine.text == (
        "✅ 您已接下求助 H-1\n"
        "手机维修 · 9月14日（周一）晚上 18:30–21:30 · 1号楼\n"
        "说明：手机屏幕碎了，无法开机\n"
        "求助同学：郑博嘉\n地点：1号楼 101 室\n"
        "请按时前往；同学确认完成后，记入您的志愿服务时长。"
    )
    assert mine.buttons == []
    theirs = await edited(tg, loser, loser_card.message_id, "已由")
    assert theirs.text == (
        f"✅ 求助 H-1 已由{taker.name}接单\n"
        "手机维修 · 9月14日（周一）晚上 18:30–21:30 · 1号楼\n"
        "说明：手机屏幕碎了，无法开机"
    )
    assert theirs.buttons == []
    coming = await prompt(tg, student)
    assert coming.text == (
        f"✅ {taker.name}会来帮您\n"
        f"求助 H-1（手机维修）已由红色服务队志愿者{taker.name}接单："
        "9月14日（周一）晚上 18:30–21:30，1号楼 101 室。\n"
        "完成后请点“已完成，谢谢”。"
    )
    assert await pending_firings(campus) == [], "taken: nothing left to escalate or lapse"

    # The evening: the student marks it done and thanks the volunteer.
    at(clock, campus_time("2026-09-14", "19:30"))
    thanks = await press(tg, student, coming, "已完成，谢谢")
    assert thanks.text == (
        "确认完成\n\n"
        f"{taker.name}帮您处理了求助 H-1（手机维修）。想说几句感谢的话吗？"
        f"会转给{taker.name}；不写请按“跳过”。"
    )
    await tg.user_send(student.user, "谢谢您，手机修好了！")
    summary = await prompt(tg, student)
    assert summary.text == (
        f"请确认求助 H-1 已完成：\n帮忙的志愿者：{taker.name}\n感谢的话：谢谢您，手机修好了！"
    )
    done = await press(tg, student, summary, "✔ 提交")
    assert done.text == (
        f"已确认求助 H-1 完成，您的感谢已转给{taker.name}。谢谢您对红色服务队的支持！"
    )
    thanked = await prompt(tg, winner)
    assert thanked.text == (
        "🌟 郑博嘉确认求助 H-1（手机维修）已完成，并向您致谢：“谢谢您，手机修好了！”\n"
        "本次记入志愿服务 1 小时，您累计志愿服务 1 小时。"
    )
    news = await edited(tg, student, coming.message_id, "已完成")
    assert news.text == f"☑️ 求助 H-1 已完成\n感谢{taker.name}的帮助，本次为其记入志愿服务 1 小时。"
    assert news.buttons == []
    await edited(tg, loser, loser_card.message_id, "已完成")

    [request] = await requests(campus)
    assert (request.status, request.hours, request.thanks) == (
        ServiceStatus.DONE,
        1.0,
        "谢谢您，手机修好了！",
    )
    assert [d["request"] for d in await audits(campus, "red_service.taken")] == [request.id]
    assert await audits(campus, "red_service.done") == [{"request": request.id, "hours": 1.0}]


EN = {
    "phone": "Fix a phone",
    "detail_question": "Please say briefly what is wrong",
    "detail": "My phone will not start",
    "day_question": "You may ask for a day up to 7 days ahead",
    "dorm": "✔ Building 1, room 101",
    "summary": (
        "Please confirm your request:\nHelp with: Fix a phone\nDetails: My phone will not start\n"
        "When: Tue 15 Sep, Noon 12:00–13:30\nPlace: Building 1, room 101"
    ),
    "submit": "✔ Submit",
}


async def test_an_untaken_request_goes_to_the_team_leader_then_lapses(
    edge: Edge,
    campus: Database,
    tg: FakeTelegram,
    clock: Clock,
    person: People,
    invite: Invite,
) -> None:
    at(clock, campus_time("2026-09-14", "09:00"))
    li = await linked(person, invite, LI, language="en")
    leader = await linked(person, invite, LEADER, language="en")
    student = await linked(person, invite, STUDENT, language="en")

    receipt = await ask(tg, student, EN, "tomorrow", "Noon 12:00–13:30")
    # Tomorrow: the default route, twelve hours.
    assert receipt.text == (
        "Submitted as help request H-1 (fix a phone, Tue 15 Sep, noon 12:00–13:30).\n"
        "It went to the 1 volunteer of the Community 1 Red Service Team; the first to take it "
        "will come and help. You will hear when someone takes it.\n"
        "If nobody has taken it by Mon 14 Sep 21:00, it goes to the Red Service Team leader."
    )
    card = await prompt(tg, li)
    assert labels(card) == ["I'll help"]
    assert await pending_firings(campus) == ["rs:1:escalate", "rs:1:lapse"]

    # Twelve hours later nobody has taken it: the team leader gets it, and may take it.
    at(clock, campus_time("2026-09-14", "21:00"))
    await edge.scheduler.run_due()
    offered = await prompt(tg, leader)
    assert offered.text == (
        "⚠️ Nobody has taken help request H-1 yet\n"
        "Fix a phone · Tue 15 Sep, noon 12:00–13:30 · Building 1\n"
        "Details: My phone will not start\n"
        "No volunteer has taken it, so it went to the Red Service Team leader; the first to "
        "press “I'll help” takes it."
    )
    assert labels(offered) == ["I'll help"]
    again = await edited(tg, li, card.message_id, "Nobody has taken")
    assert labels(again) == ["I'll help"], "the volunteer may still take it"
    news = await prompt(tg, student)
    assert news.text == (
        "Nobody has taken your help request H-1 (fix a phone, Tue 15 Sep, noon 12:00–13:30) "
        "yet, so it went to the Red Service Team leader, 王强鹏. You will hear when someone "
        "takes it."
    )
    assert await audits(campus, "red_service.escalated") == [
        {"request": 1, "to": "service_team_leader"}
    ]

    # Its window ends with nobody there: it is over, and every card says so.
    at(clock, campus_time("2026-09-15", "13:30"))
    await edge.scheduler.run_due()
    lapsed = await prompt(tg, student)
    assert lapsed.text == (
        "Sorry: nobody took your help request H-1 (fix a phone, Tue 15 Sep, noon "
        "12:00–13:30) in time, so it has ended. If you still need help, send /service again or "
        "contact your community counsellor."
    )
    for chat, message in ((li, card), (leader, offered)):
        over = await edited(tg, chat, message.message_id, "its time is over")
        assert over.buttons == []
    [request] = await requests(campus)
    assert request.status is ServiceStatus.LAPSED and request.volunteer_person_id is None
    assert request.offered_to == ["service_volunteer", "service_team_leader"]
    assert await pending_firings(campus) == []


async def test_a_team_whose_volunteers_cannot_be_reached_sends_it_to_the_leader_at_once(
    edge: Edge,
    campus: Database,
    tg: FakeTelegram,
    clock: Clock,
    person: People,
    invite: Invite,
) -> None:
    at(clock, campus_time("2026-09-14", "09:00"))
    leader = await linked(person, invite, C2_LEADER)
    student = await linked(person, invite, C2_STUDENT)
    said = {
        **ZH,
        "dorm": "✔ 2号楼 102 室",
        "summary": ZH["summary"].replace("1号楼 101 室", "2号楼 102 室"),
    }
    receipt = await ask(tg, student, said, "今天", "晚上 18:30–21:30")
    assert receipt.text == (
        "已提交求助 H-1（手机维修，9月14日（周一）晚上 18:30–21:30）。\n"
        "目前联系不上第二社区红色服务队的志愿者，已直接转给红色服务队队长 蒋敏鸣。"
        "有人接单后会通知您。"
    )
    card = await prompt(tg, leader)
    assert (card.text or "").startswith("⚠️ 求助 H-1 仍无人接单\n")
    await tg.user_press(leader.user, card, card.button_data("我来帮忙"))
    coming = await prompt(tg, student)
    assert (coming.text or "").startswith("✅ 蒋敏鸣会来帮您\n")
    [request] = await requests(campus)
    assert request.status is ServiceStatus.TAKEN


async def test_forged_presses_take_and_finish_nothing(
    edge: Edge,
    campus: Database,
    tg: FakeTelegram,
    clock: Clock,
    person: People,
    invite: Invite,
) -> None:
    at(clock, campus_time("2026-09-14", "09:00"))
    li = await linked(person, invite, LI, language="en")
    zhou = await linked(person, invite, ZHOU, language="en")
    leader = await linked(person, invite, LEADER, language="en")
    elsewhere = await linked(person, invite, C2_VOLUNTEER, language="en")
    roommate = await linked(person, invite, ROOMMATE, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await ask(tg, student, {**EN, "day_question": "Which day?"}, "tomorrow", "Noon 12:00–13:30")
    card = await prompt(tg, li)
    take, done = RED_SERVICE.pack(request=1, op="t"), RED_SERVICE.pack(request=1, op="d")
    refused = (
        "You cannot act on this request: only the members of the community's Red Service Team "
        "it was sent to may take it, and only the student who asked may mark it done."
    )

    # Nobody it was not offered to takes it: a roommate, a volunteer of another community, the
    # student who asked, the team leader before it went up to them.
    for chat, data in [(roommate, take), (elsewhere, take), (student, take), (leader, take)]:
        assert (await forged(tg, chat, data)).text == refused
    assert (await forged(tg, li, done)).text == refused
    garbled = await forged(tg, li, "rs:1x:t")
    assert garbled.text == "This request has already been dealt with."
    assert [d["op"] for d in await audits(campus, "red_service.refused")] == [*"ttttd"]
    [request] = await requests(campus)
    assert request.status is ServiceStatus.OPEN and request.volunteer_person_id is None

    # Taken for real, then a second press comes too late, whoever makes it.
    await tg.user_press(li.user, card, card.button_data("I'll help"))
    coming = await prompt(tg, student)
    late = await forged(tg, zhou, take)
    assert late.text == "李辉刚 has already taken this request."
    # Only the student who asked marks it done.
    assert (await forged(tg, li, done)).text == refused
    thanks = await press(tg, student, coming, "Done, thank you")
    summary = await press(tg, student, thanks, "Skip")
    assert (
        summary.text
        == "Please confirm that request H-1 is done:\nVolunteer: 李辉刚\nYour thanks: none"
    )
    finished = await press(tg, student, summary, "✔ Submit")
    assert (
        finished.text
        == "Help request H-1 is marked done. Thank you for supporting the Red Service Team!"
    )
    thanked = await prompt(tg, li)
    assert thanked.text == (
        "🌟 郑博嘉 marked help request H-1 (fix a phone) done. Thank you!\n"
        "1 volunteer hour recorded; you have 1 volunteer hour in all."
    )
    twice = await forged(tg, student, done)
    assert twice.text == "This request has already been dealt with."
    [request] = await requests(campus)
    assert request.status is ServiceStatus.DONE and request.hours == 1.0
