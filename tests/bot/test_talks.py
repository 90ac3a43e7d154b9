"""Heart-to-heart talks (谈心谈话) through the running bot: a counsellor publishes slots, a
student books one, the teacher notes it, both are reminded, the student cancels with a reason;
a counsellor invites a student, the teacher records that the student did not come, and the
counts show numbers only. Nobody else sees a talk: a floor leader forging its buttons is told
the button has expired, as for a talk that does not exist."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assistant.app import running
from assistant.config import REPO_ROOT
from assistant.domain import TalkStatus
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import CallbackAnswer, FakeCallbackQuery, FakeMessage
from assistant.services.talks import TALK
from assistant.storage.db import Database
from assistant.storage.models import AuditEntry, Firing, FiringStatus, Talk, TalkSlot
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_duty import at, campus_time
from tests.bot.test_identity import C1_COUNSELLOR, FLOOR_1_LEADER, STUDENT, linked
from tests.bot.test_report import press, prompt

Invite = Callable[[str], Awaitable[str]]
People = Callable[..., Chat]

BUS_LEADER = "T0001"  # 王春浩: a BUS teacher, the college party organisation leader
ORG_DEPARTMENT = "T0016"
STUDENT_2 = "2023010002"  # 杜阳豪, B1-101
ART_STUDENT = "2023020002"  # 罗娟洋, ART, B3-101


async def typed(tg: FakeTelegram, chat: Chat, text: str) -> FakeMessage:
    """Type ``text`` and return the bot's next new message."""
    await tg.user_send(chat.user, text)
    return await prompt(tg, chat)


async def pressed(tg: FakeTelegram, chat: Chat, message: FakeMessage, label: str) -> str:
    """Press the button ``label`` of ``message`` and return the text it is edited to."""
    await tg.user_press(chat.user, message, message.button_data(label))
    edit = await tg.wait_for_bot_message(
        chat.user.id,
        predicate=lambda m: m.edit_date is not None and m.message_id == message.message_id,
    )
    return edit.text or ""


async def forged(tg: FakeTelegram, chat: Chat, data: str) -> CallbackAnswer:
    """A press of a button ``chat`` was never sent, under the last message the bot sent them;
    the bot's answer to it."""
    message = next(m for m in reversed(tg.messages(chat.user.id)) if m.from_bot)
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


def said_to(tg: FakeTelegram, chat: Chat) -> str:
    """Everything the bot ever showed ``chat``, every edit included."""
    return "\n".join(m.text or "" for m in tg.messages(chat.user.id) if m.from_bot)


async def talks(db: Database) -> list[Talk]:
    async with db.unit_of_work() as session:
        return list(await session.scalars(select(Talk).order_by(Talk.id)))


async def audits(db: Database, action: str) -> list[dict[str, Any]]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return [row.detail for row in rows]


async def publish(
    tg: FakeTelegram, teacher: Chat, place: str, day: str, length: str, clock: str, weeks: str
) -> str:
    """The teacher publishes slots with /offertalk (Chinese); the bot's last answer."""
    question = await typed(tg, teacher, "/offertalk")
    assert "在哪里谈" in (question.text or "")
    question = await press(tg, teacher, question, place)
    question = await typed(tg, teacher, day)
    question = await press(tg, teacher, question, length)
    assert "几点开始" in (question.text or "")
    question = await typed(tg, teacher, clock)
    question = await typed(tg, teacher, weeks)
    assert "请确认要发布的谈心谈话时段" in (question.text or "")
    return (await press(tg, teacher, question, "✔ 提交")).text or ""


async def test_a_talk_is_booked_noted_reminded_and_cancelled_and_a_floor_leader_sees_nothing(
    campus: Database, tg: FakeTelegram, clock: Clock, person: People, invite: Invite
) -> None:
    at(clock, campus_time("2026-09-14", "09:00"))  # Monday, teaching week 2
    async with running(make_application(campus, tg, clock)) as edge:
        counsellor = await linked(person, invite, C1_COUNSELLOR)
        student = await linked(person, invite, STUDENT)
        leader = await linked(person, invite, FLOOR_1_LEADER)

        # The counsellor offers Tuesday evenings in the psychological health studio.
        assert await publish(tg, counsellor, "心理健康工作室", "明天", "45 分钟", "19:00", "2") == (
            "已发布 2 个谈心谈话时段：9月15日（周二）至9月22日（周二），每周 19:00。\n"
            "同学预约后会通知您。发送 /talks 查看，也可在那里撤回未被预约的时段。"
        )
        # Nothing booked yet: the only button withdraws, so no talk is offered to press.
        assert await counsellor.say("/talks") == "与我谈心谈话的同学\n还有 2 个时段可供预约。"

        # The student books the first, with a topic.
        question = await typed(tg, student, "/talk")
        assert "请选择一个时段" in (question.text or "")
        first = "9月15日（周二）19:00–19:45 朱晓雪 · 心理健康工作室"
        assert [b["text"] for b in question.buttons[0]] == [
            first,
            "9月22日（周二）19:00–19:45 朱晓雪 · 心理健康工作室",
        ]
        question = await press(tg, student, question, first)
        question = await typed(tg, student, "最近学习压力有点大")
        assert "话题：最近学习压力有点大" in (question.text or "")
        booked = await press(tg, student, question, "✔ 提交")
        assert (booked.text or "").startswith(
            "✅ 已预约谈心谈话：9月15日（周二）19:00–19:45，朱晓雪，心理健康工作室。"
        )
        news = await prompt(tg, counsellor)
        assert news.text == (
            "🗓 郑博嘉同学预约了谈心谈话\n9月15日（周二）19:00–19:45，心理健康工作室\n"
            "话题：最近学习压力有点大"
        )
        [talk] = await talks(campus)

        # The teacher writes a note, which only they and the counsellors can read.
        card = await pressed(tg, counsellor, news, "查看")
        assert "备注（仅老师和社区辅导员可见）：无" in card
        card_message = tg.message(counsellor.user.id, news.message_id)
        question = await press(tg, counsellor, card_message, "写备注")
        assert "只有您和该同学的社区辅导员可以看到" in (question.text or "")
        question = await typed(tg, counsellor, "谈了学业规划，下周再跟进")
        saved = await press(tg, counsellor, question, "✔ 提交")
        assert saved.text == "已保存备注。只有您和该同学的社区辅导员可以看到。"

        # The floor leader of the student's floor sees nothing of it, whatever they press.
        assert await leader.say("/talks") == "您目前没有谈心谈话。发送 /talk 预约。"
        for op in ("v", "n", "x", "h", "a"):
            answer = await forged(tg, leader, TALK.pack(talk=talk.id, op=op))
            assert answer.text == "这个按钮已失效，请重新发送命令。" and answer.show_alert
        # A talk that does not exist gets the same answer: nothing tells the two apart.
        assert (await forged(tg, leader, TALK.pack(talk=talk.id + 99, op="v"))).text == (
            "这个按钮已失效，请重新发送命令。"
        )
        refused = await audits(campus, "talk.refused")
        assert [entry["op"] for entry in refused] == ["v", "n", "x", "h", "a", "v"]
        assert {entry["talk"] for entry in refused} == {talk.id, talk.id + 99}
        for secret in ("郑博嘉", "学习压力", "学业规划", "朱晓雪"):
            assert secret not in said_to(tg, leader)
        # The note is the teacher's: the student cannot write it either.
        answer = await forged(tg, student, TALK.pack(talk=talk.id, op="n"))
        assert answer.text == "这个按钮已失效，请重新发送命令。"
        assert [entry["op"] for entry in await audits(campus, "talk.refused")][-1] == "n"

        # Two hours before, both are reminded.
        at(clock, campus_time("2026-09-15", "17:00"))
        await edge.scheduler.run_due()
        reminded = await prompt(tg, student)
        assert reminded.text == (
            "⏰ 谈心谈话提醒：您与朱晓雪老师的谈心谈话将于9月15日（周二）19:00–19:45"
            "在心理健康工作室进行。"
        )
        assert "您与郑博嘉同学的谈心谈话" in ((await prompt(tg, counsellor)).text or "")

        # The student sees the card without the note, and cancels with a reason.
        card = await pressed(tg, student, reminded, "查看")
        assert "话题：最近学习压力有点大" in card and "备注" not in card and "学业规划" not in card
        card_message = tg.message(student.user.id, reminded.message_id)
        question = await press(tg, student, card_message, "取消谈话")
        assert "取消与朱晓雪 9月15日（周二）19:00–19:45 的谈心谈话" in (question.text or "")
        question = await typed(tg, student, "临时要补课")
        done = await press(tg, student, question, "✔ 提交")
        assert done.text == "已取消 9月15日（周二）19:00–19:45 的谈心谈话，已告知对方。"
        assert (await prompt(tg, counsellor)).text == (
            "❌ 谈心谈话已取消\n郑博嘉取消了 9月15日（周二）19:00–19:45 的谈心谈话。\n"
            "原因：临时要补课"
        )
        [talk] = await talks(campus)
        assert (talk.status, talk.cancel_reason) == (TalkStatus.CANCELLED, "临时要补课")
        async with campus.unit_of_work() as session:
            waiting = await session.scalars(
                select(Firing.key).where(
                    Firing.key.startswith(f"talk:{talk.id}:"),
                    Firing.status == FiringStatus.PENDING,
                )
            )
            assert list(waiting) == [], "nothing more is asked of a cancelled talk"

        # The slot is free again: the student may book it once more.
        question = await typed(tg, student, "/talk")
        assert first in [b["text"] for row in question.buttons for b in row]


async def test_an_invited_student_does_not_come_and_the_counts_show_numbers_only(
    campus: Database, tg: FakeTelegram, clock: Clock, person: People, invite: Invite
) -> None:
    at(clock, campus_time("2026-09-14", "09:00"))
    async with running(make_application(campus, tg, clock)) as edge:
        counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
        student = await linked(person, invite, STUDENT, language="en")
        office = await linked(person, invite, ORG_DEPARTMENT, language="en")

        question = await typed(tg, counsellor, "/invitetalk")
        assert "Type the student number" in (question.text or "")
        question = await typed(tg, counsellor, ART_STUDENT)
        assert "No student with that number lives in a community you counsel" in (
            question.text or ""
        )
        question = await typed(tg, counsellor, STUDENT)
        assert (question.text or "").startswith("Inviting 郑博嘉. Where will you talk?")
        question = await press(tg, counsellor, question, "Online")
        question = await typed(tg, counsellor, "Tencent Meeting 123 456 789")
        question = await typed(tg, counsellor, "2026-09-16")
        question = await press(tg, counsellor, question, "30 minutes")
        question = await typed(tg, counsellor, "14:00")
        question = await press(tg, counsellor, question, "Skip")
        assert "Student: 郑博嘉 (2023010001)" in (question.text or "")
        sent = await press(tg, counsellor, question, "✔ Submit")
        assert sent.text == (
            "✅ 郑博嘉 is invited to a talk: Wed 16 Sep 14:00–14:30, online (Tencent Meeting "
            "123 456 789). If they cannot come, they will say why."
        )
        invitation = await prompt(tg, student)
        assert (invitation.text or "").startswith(
            "🗓 An invitation to a heart-to-heart talk\n朱晓雪 invites you to a talk: Wed 16 Sep "
            "14:00–14:30, online (Tencent Meeting 123 456 789)."
        )
        assert [b["text"] for row in invitation.buttons for b in row] == ["View", "Cancel the talk"]

        # Both are reminded; at its end the teacher is asked, and the student did not come.
        at(clock, campus_time("2026-09-16", "12:00"))
        await edge.scheduler.run_due()
        assert (await prompt(tg, student)).text == (
            "⏰ Talk reminder: your heart-to-heart talk with 朱晓雪 is on Wed 16 Sep "
            "14:00–14:30, online (Tencent Meeting 123 456 789)."
        )
        assert "with 郑博嘉 is on" in ((await prompt(tg, counsellor)).text or "")
        at(clock, campus_time("2026-09-16", "14:30"))
        await edge.scheduler.run_due()
        asked = await prompt(tg, counsellor)
        assert (asked.text or "").startswith("📝 Did your talk with 郑博嘉 on Wed 16 Sep")
        card = await pressed(tg, counsellor, asked, "The student did not come")
        assert card.startswith("Heart-to-heart talk · the student did not come")
        [talk] = await talks(campus)
        assert talk.status is TalkStatus.NO_SHOW

        # The Organisation Department reads numbers, never who or what.
        counts = await office.say("/talks")
        assert counts == (
            "Talks in numbers (since Mon 7 Sep)\n"
            "Community 1: 0 held, 1 did not come, 0 to record, 0 to come, 0 cancelled"
        )


async def test_a_counsellor_reads_the_note_of_another_teachers_talk_with_their_student(
    campus: Database, tg: FakeTelegram, clock: Clock, person: People, invite: Invite
) -> None:
    at(clock, campus_time("2026-09-14", "09:00"))
    async with running(make_application(campus, tg, clock)) as edge:
        leader = await linked(person, invite, BUS_LEADER)
        counsellor = await linked(person, invite, C1_COUNSELLOR)
        student = await linked(person, invite, STUDENT)
        assert (
            await publish(tg, leader, "商学院党团活动室", "明天", "1 小时", "10:00", "1")
        ).startswith("已发布谈心谈话时段：9月15日（周二）10:00。")
        question = await typed(tg, student, "/talk")
        question = await press(tg, student, question, question.buttons[0][0]["text"])
        question = await press(tg, student, question, "跳过")
        await press(tg, student, question, "✔ 提交")
        news = await prompt(tg, leader)
        assert "话题：未填写" in (news.text or "")

        at(clock, campus_time("2026-09-15", "11:00"))
        await edge.scheduler.run_due()
        asked = await prompt(tg, leader)
        card = await pressed(tg, leader, asked, "已谈")
        assert card.startswith("谈心谈话 · 已谈")
        question = await press(tg, leader, tg.message(leader.user.id, asked.message_id), "写备注")
        question = await typed(tg, leader, "同学想入党，已介绍积极分子培养")
        await press(tg, leader, question, "✔ 提交")

        # The student's counsellor sees the talk and reads the note; the student does not.
        listing = await counsellor.say("/talks")
        assert (
            "本社区同学的谈心谈话\n9月15日（周二）10:00–11:00 · 王春浩 与 郑博嘉 · 已谈" in listing
        )
        shown = next(m for m in reversed(tg.messages(counsellor.user.id)) if m.from_bot)
        card = await pressed(tg, counsellor, shown, "9月15日（周二）10:00 · 郑博嘉")
        assert "备注（仅老师和社区辅导员可见）：同学想入党，已介绍积极分子培养" in card
        assert [
            b["text"]
            for row in tg.message(counsellor.user.id, shown.message_id).buttons
            for b in row
        ] == ["返回列表"]
        assert "同学想入党" not in said_to(tg, student)


async def test_two_students_pressing_for_the_same_slot_cannot_both_get_it(
    campus: Database, tg: FakeTelegram, clock: Clock, person: People, invite: Invite
) -> None:
    at(clock, campus_time("2026-09-14", "09:00"))
    async with running(make_application(campus, tg, clock)):
        counsellor = await linked(person, invite, C1_COUNSELLOR)
        await publish(tg, counsellor, "心理健康工作室", "明天", "30 分钟", "19:00", "1")
        first, second = (
            await linked(person, invite, STUDENT),
            await linked(person, invite, STUDENT_2),
        )
        summaries = []
        for chat in (first, second):
            question = await typed(tg, chat, "/talk")
            question = await press(tg, chat, question, question.buttons[0][0]["text"])
            summaries.append(await press(tg, chat, question, "跳过"))
        for chat, summary in zip((first, second), summaries, strict=True):
            await tg.user_press(chat.user, summary, summary.button_data("✔ 提交"))
        answers = await asyncio.gather(prompt(tg, first), prompt(tg, second))
        texts = sorted((answer.text or "")[:6] for answer in answers)
        assert texts == ["✅ 已预约谈", "手慢了一步："]
        assert len([t for t in await talks(campus) if t.status is TalkStatus.BOOKED]) == 1
        async with campus.unit_of_work() as session:
            assert len(list(await session.scalars(select(TalkSlot)))) == 1


async def cancel(tg: FakeTelegram, chat: Chat, message: FakeMessage, reason: str) -> str:
    """Cancel the talk of ``message`` (its Cancel button) with ``reason``; the bot's answer."""
    question = await press(tg, chat, message, "取消谈话")
    question = await typed(tg, chat, reason)
    return (await press(tg, chat, question, "✔ 提交")).text or ""


async def test_a_time_the_teacher_cannot_keep_or_gave_one_student_is_offered_to_nobody(
    campus: Database, tg: FakeTelegram, clock: Clock, person: People, invite: Invite
) -> None:
    at(clock, campus_time("2026-09-14", "09:00"))
    async with running(make_application(campus, tg, clock)):
        counsellor = await linked(person, invite, C1_COUNSELLOR)
        student = await linked(person, invite, STUDENT)
        other = await linked(person, invite, STUDENT_2)

        # An invitation the student cannot keep: its time goes to nobody else.
        question = await typed(tg, counsellor, "/invitetalk")
        question = await typed(tg, counsellor, STUDENT)
        question = await press(tg, counsellor, question, "心理健康工作室")
        question = await typed(tg, counsellor, "明天")
        question = await press(tg, counsellor, question, "30 分钟")
        question = await typed(tg, counsellor, "16:00")
        question = await press(tg, counsellor, question, "跳过")
        await press(tg, counsellor, question, "✔ 提交")
        invitation = await prompt(tg, student)
        assert (await cancel(tg, student, invitation, "下午有实验课")).startswith("已取消")
        assert "原因：下午有实验课" in ((await prompt(tg, counsellor)).text or "")
        assert await other.say("/talk") == (
            "目前没有可以预约的谈心谈话时段。老师发布新的时段后，请再发送 /talk。"
        )

        # A published slot the teacher cannot keep after all: withdrawn with the talk.
        await publish(tg, counsellor, "心理健康工作室", "明天", "30 分钟", "19:00", "1")
        question = await typed(tg, student, "/talk")
        question = await press(tg, student, question, question.buttons[0][0]["text"])
        question = await press(tg, student, question, "跳过")
        await press(tg, student, question, "✔ 提交")
        news = await prompt(tg, counsellor)
        await pressed(tg, counsellor, news, "查看")
        card = tg.message(counsellor.user.id, news.message_id)
        assert (await cancel(tg, counsellor, card, "临时要开会")).startswith("已取消")
        assert "朱晓雪取消了" in ((await prompt(tg, student)).text or "")
        assert (await other.say("/talk")).startswith("目前没有可以预约的谈心谈话时段")
        async with campus.unit_of_work() as session:
            statuses = list(await session.scalars(select(TalkSlot.status).order_by(TalkSlot.id)))
        assert [str(status) for status in statuses] == ["withdrawn", "withdrawn"]


async def test_where_the_rules_say_so_the_counsellors_do_not_see_a_students_talks(
    campus: Database,
    tg: FakeTelegram,
    clock: Clock,
    person: People,
    invite: Invite,
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules)
    policies = (rules / "policies.yaml").read_text(encoding="utf-8")
    (rules / "policies.yaml").write_text(
        policies.replace(
            "  - id: talk-counsellor-sees\n",
            "  - id: talk-counsellor-sees-not-party-members\n"
            "    policy: talk.counsellor_sees\n"
            "    when: status == 'student'\n"
            "    value: false\n\n"
            "  - id: talk-counsellor-sees\n",
        ),
        encoding="utf-8",
    )
    at(clock, campus_time("2026-09-14", "09:00"))
    async with running(make_application(campus, tg, clock, rules_dir=rules)):
        leader = await linked(person, invite, BUS_LEADER)
        counsellor = await linked(person, invite, C1_COUNSELLOR)
        student = await linked(person, invite, STUDENT)
        await publish(tg, leader, "商学院党团活动室", "明天", "1 小时", "10:00", "1")
        question = await typed(tg, student, "/talk")
        question = await press(tg, student, question, question.buttons[0][0]["text"])
        question = await press(tg, student, question, "跳过")
        await press(tg, student, question, "✔ 提交")
        news = await prompt(tg, leader)
        await pressed(tg, leader, news, "查看")
        question = await press(tg, leader, tg.message(leader.user.id, news.message_id), "写备注")
        # The question says who will read the note: the teacher alone, here.
        assert "只有您可以看到" in (question.text or "")
        [talk] = await talks(campus)

        assert await counsellor.say("/talks") == "您目前没有谈心谈话。"
        answer = await forged(tg, counsellor, TALK.pack(talk=talk.id, op="v"))
        assert answer.text == "这个按钮已失效，请重新发送命令。"
