"""The Star of the Month as the plan has it (§七(四)): one a month for the whole school, picked by
the Community Service Centre from every community's nominations, with the award given recorded
and shown; or, with ``star.scope: community``, one for each community. Never a second Star for
the same month and scope, and nobody but the Centre picks, records an award or reads the
Stars so far."""

from __future__ import annotations

import asyncio
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from assistant.app import Edge, running
from assistant.config import REPO_ROOT
from assistant.domain import Role
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import FakeMessage
from assistant.storage import repo
from assistant.storage.db import Database
from assistant.storage.models import (
    Community,
    ConversationState,
    ConversationStatus,
    RoleAssignment,
    StarAward,
    StarNomination,
)
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import C1_COUNSELLOR, FLOOR_1_LEADER, STUDENT, linked
from tests.bot.test_stars import (
    C2_STUDENT,
    REFUSED,
    SERVICE_CENTRE,
    SERVICE_CENTRE_2,
    XU_MENG_ZH,
    Invite,
    Person,
    asked,
    audit,
    forged,
    labels,
    nominate,
    press,
    prompt,
    prompt_after,
    stars_shown,
    stored,
)

C2_PARTY_MEMBER = "2024010005"  # 周娜燕, B2-101, community C2
C2_NEIGHBOUR = "2022010007"  # 刘诗磊, B2-101, community C2
ZHOU_ZH = "周娜燕（2号楼 101 室）"


def with_scope(tmp_path: Path, scope: str) -> Path:
    """The shipped rules with ``star.scope`` set to ``scope``."""
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules, dirs_exist_ok=True)
    policies = rules / "policies.yaml"
    shipped = policies.read_text(encoding="utf-8")
    rule = "policy: star.scope\n    when: true\n    value: school\n"
    assert shipped.count(rule) == 1
    policies.write_text(shipped.replace(rule, rule.replace("school", scope)), encoding="utf-8")
    return rules


async def _two_communities_nominate(
    tg: FakeTelegram, person: Person, invite: Invite
) -> tuple[Chat, Chat]:
    """A student of community 1 nominates 徐梦, one of community 2 周娜燕."""
    c1 = await linked(person, invite, STUDENT)
    c2 = await linked(person, invite, C2_STUDENT)
    await nominate(tg, c1, XU_MENG_ZH, "每周在自习室为同学义务辅导高数")
    await nominate(tg, c2, ZHOU_ZH, "组织楼层垃圾分类宣传，带动整栋楼参与")
    return c1, c2


async def _yes(tg: FakeTelegram, chat: Chat, board: FakeMessage, pick: str, sure: str) -> str:
    """Pick ``pick`` on ``board`` and say yes; the answer to the yes (None when it picked)."""
    question = await asked(tg, chat, board, pick)
    query = await tg.user_press(chat.user, question, question.button_data(sure))
    return (await tg.wait_for_callback_answer(query)).text or ""


async def test_the_school_has_one_star_a_month_from_every_communitys_nominations(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    c1, c2 = await _two_communities_nominate(tg, person, invite)
    neighbour = await linked(person, invite, C2_NEIGHBOUR)
    await nominate(tg, neighbour, ZHOU_ZH, "热心帮助同楼层的新生适应大学生活")
    zhou = await linked(person, invite, C2_PARTY_MEMBER)
    centre = await linked(person, invite, SERVICE_CENTRE)

    heading, [first, second], history = await stars_shown(tg, centre, 2)
    assert heading.text == (
        "2026 年 9 月全校“每月之星”评选\n"
        "以下是 2 个社区的提名。全校每月评选一位，请从各社区的提名中选出一位。"
    )
    assert "第一社区 · 2026 年 9 月“每月之星”提名" in (first.text or "")
    assert "第二社区 · 2026 年 9 月“每月之星”提名" in (second.text or "")
    assert "周娜燕（2024010005）· 2 人提名" in (second.text or "")
    assert (labels(first), labels(second)) == (["评选 徐梦"], ["评选 周娜燕"])
    assert history.text == "历届“每月之星”\n还没有评出过“每月之星”。"

    question = await asked(tg, centre, second, "评选 周娜燕")
    assert question.text == (
        "确定评选 周娜燕（2024010005，第二社区）为全校 2026 年 9 月“每月之星”吗？\n"
        "全校每月只评选一位，评选结果会立即通知全校，之后不能更改。"
    )
    query = await tg.user_press(centre.user, question, question.button_data("确定评选"))
    assert (await tg.wait_for_callback_answer(query)).text is None
    # The award is asked for at once.
    award = await prompt(tg, centre)
    assert award.text == (
        "记录“每月之星”颁奖\n\n"
        "获奖人：周娜燕（第二社区），全校 2026 年 9 月“每月之星”。\n"
        "颁发的是什么奖励？请输入（2 至 200 字），例如“荣誉证书和 200 元图书券”。"
        "颁奖日期和颁发人接下来再问；暂时不清楚可以点“取消”，以后在 /stars 里记录。"
    )

    # Community 1's board, as shown before, can no longer pick: the month has its Star.
    late = await tg.user_press(centre.user, first, first.button_data("评选 徐梦"))
    answer = await tg.wait_for_callback_answer(late)
    assert answer.text == "全校 2026 年 9 月“每月之星”已经评出：周娜燕（第二社区）。"
    assert answer.show_alert
    redrawn = await tg.wait_for_bot_message(
        centre.user.id, predicate=lambda m: m.message_id == first.message_id
    )
    assert "已评出全校“每月之星”：周娜燕（第二社区，张超天评选）" in (redrawn.text or "")
    assert redrawn.buttons == []
    [star] = await stored(campus, StarAward)
    assert isinstance(star, StarAward)
    assert (star.month, star.scope, star.scope_id) == ("2026-09", "school", 0)

    # The award: what, on which day (typed), by whom (the Centre, suggested).
    on = await prompt_after(tg, centre, "荣誉证书和 200 元图书券")
    assert "哪天颁发（或已经颁发）？可以是9月1日（周二）至12月30日（周三）之间的日期。" in (
        on.text or ""
    )
    by = await prompt_after(tg, centre, "9月30日")
    assert "由谁颁发？" in (by.text or "") and labels(by)[0] == "✔ 学生社区服务中心"
    summary = await press(tg, centre, by, "✔ 学生社区服务中心")
    assert summary.text == (
        "请确认颁奖信息：\n获奖人：周娜燕（第二社区）\n奖励：荣誉证书和 200 元图书券\n"
        "颁奖日期：9月30日（周三）\n颁发人：学生社区服务中心"
    )
    done = await press(tg, centre, summary, "✔ 提交")
    assert done.text == (
        "已记录周娜燕（第二社区）获得全校 2026 年 9 月“每月之星”的颁奖信息，发送 /stars 可查看历届"
        "“每月之星”。\n奖励：荣誉证书和 200 元图书券（9月30日（周三）由学生社区服务中心颁发）"
    )

    # The Star, those who nominated them, and everyone else, in every community.
    assert (await prompt(tg, zhou)).text == (
        "🌟 祝贺您当选全校 2026 年 9 月“每月之星”！共有 2 位同学提名了您。"
    )
    assert (await prompt(tg, zhou)).text == (
        "🏅 您的全校 2026 年 9 月“每月之星”奖励：荣誉证书和 200 元图书券，"
        "9月30日（周三）由学生社区服务中心颁发。"
    )
    for nominator in (c2, neighbour):
        assert (await prompt(tg, nominator)).text == (
            "🌟 您提名的周娜燕当选全校 2026 年 9 月“每月之星”。谢谢您的提名！"
        )
    assert (await prompt(tg, c1)).text == (
        "🌟 全校 2026 年 9 月“每月之星”：周娜燕（第二社区）\n"
        "由学生社区服务中心评选产生，让我们一起祝贺，向身边的榜样学习！"
    )
    # Each who nominated the Star reads it as chosen, not only the first.
    assert "每月之星提名 S-3 · 周娜燕 · 2026-09 · 已当选" in await neighbour.say("/mine")

    # /stars shows the Star with the award, on their board and among the Stars so far.
    heading, [first, second], history = await stars_shown(tg, centre, 2)
    # Nothing is left to pick, and the heading no longer asks for it.
    assert heading.text == (
        "2026 年 9 月全校“每月之星”评选\n"
        "本月已评出全校“每月之星”：周娜燕（第二社区）。以下是 2 个社区的提名，供查看。"
    )
    assert "奖励：荣誉证书和 200 元图书券（9月30日（周三）由学生社区服务中心颁发）" in (
        second.text or ""
    )
    assert labels(second) == ["🏅 修改颁奖信息"] and labels(first) == []
    assert history.text == (
        "历届“每月之星”\n\n2026 年 9 月：周娜燕（第二社区）\n"
        "奖励：荣誉证书和 200 元图书券（9月30日（周三）由学生社区服务中心颁发）"
    )
    assert history.buttons == []
    [star] = await stored(campus, StarAward)
    assert isinstance(star, StarAward)
    assert (star.prize, star.presented_on, star.presented_by) == (
        "荣誉证书和 200 元图书券",
        date(2026, 9, 30),
        "学生社区服务中心",
    )


async def test_the_award_is_recorded_later_from_the_stars_so_far_in_english(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    star = await linked(person, invite, FLOOR_1_LEADER, language="en")
    student = await linked(person, invite, STUDENT)
    await nominate(tg, student, XU_MENG_ZH, "每周在自习室为同学义务辅导高数")
    centre = await linked(person, invite, SERVICE_CENTRE, language="en")
    heading, [board], _ = await stars_shown(tg, centre, 1)
    assert heading.text == (
        "Star of the Month, September 2026: one for the whole school\n"
        "Below are the nominations of 1 community. The school has one Star a month: pick one "
        "of all these nominees."
    )
    assert await _yes(tg, centre, board, "Pick 徐梦", "Yes, pick") == ""
    asked_now = await prompt(tg, centre)
    assert "What is the award?" in (asked_now.text or "")
    # Not known yet: the clerk stops here, and the Star is chosen all the same.
    assert await centre.say("/cancel") == "Cancelled; nothing was submitted."
    assert (await prompt(tg, star)).text == (
        "🌟 Congratulations: you are the school's Star of September 2026! 1 person nominated you."
    )

    _, _, history = await stars_shown(tg, centre, 1)
    assert history.text == (
        "Stars of the Month so far\n\nSeptember 2026: 徐梦 (Community 1)\nAward: not recorded yet"
    )
    button = "🏅 Record the award: 徐梦 (Sep 2026)"
    assert labels(history) == [button]
    await tg.user_press(centre.user, history, history.button_data(button))
    prize = await prompt(tg, centre)
    assert (prize.text or "").startswith(
        "Record the Star of the Month's award\n\n"
        "Star: 徐梦 (Community 1), the school's Star of September 2026.\nWhat is the award?"
    )
    on = await prompt_after(tg, centre, "A certificate and a 200-yuan book voucher")
    assert "Any day from Tue 1 Sep to Wed 30 Dec." in (on.text or "")
    # A day before the Star's month is refused, with the days it may be.
    refused = await prompt_after(tg, centre, "Aug 30")
    assert (refused.text or "").startswith(
        "The day of the award must be between Tue 1 Sep and Wed 30 Dec."
    )
    by = await prompt_after(tg, centre, "Sep 28")
    assert labels(by)[0] == "✔ the Community Service Centre"
    summary = await prompt_after(tg, centre, "Ms Wang, head of the Community Service Centre")
    assert summary.text == (
        "Please check the award:\nStar: 徐梦 (Community 1)\n"
        "Award: A certificate and a 200-yuan book voucher\nPresented on: Mon 28 Sep\n"
        "Presented by: Ms Wang, head of the Community Service Centre"
    )
    done = await press(tg, centre, summary, "✔ Submit")
    assert done.text == (
        "The award of 徐梦 (Community 1), the school's Star of September 2026, is recorded; "
        "send /stars to see every Star so far.\nAward: A certificate and a 200-yuan book "
        "voucher, presented by Ms Wang, head of the Community Service Centre on Mon 28 Sep"
    )
    assert (await prompt(tg, star)).text == (
        "🏅 Your award as the school's Star of September 2026: A certificate and a 200-yuan "
        "book voucher, presented by Ms Wang, head of the Community Service Centre on "
        "Mon 28 Sep."
    )
    _, _, history = await stars_shown(tg, centre, 1)
    assert (history.text or "").endswith(
        "Award: A certificate and a 200-yuan book voucher, presented by Ms Wang, head of the "
        "Community Service Centre on Mon 28 Sep"
    )
    assert history.buttons == []
    [recorded] = await audit(campus, "star.award_recorded")
    assert recorded.detail["presented_on"] == "2026-09-28"


async def test_with_community_scope_each_community_has_its_own_star(
    campus: Database, tg: FakeTelegram, person: Person, invite: Invite, clock: Clock, tmp_path: Path
) -> None:
    rules = with_scope(tmp_path, "community")
    async with running(make_application(campus, tg, clock, rules_dir=rules)):
        c1, c2 = await _two_communities_nominate(tg, person, invite)
        elsewhere = await linked(person, invite, C2_NEIGHBOUR)
        centre = await linked(person, invite, SERVICE_CENTRE)
        other_centre = await linked(person, invite, SERVICE_CENTRE_2, language="en")
        _, [stale, _], _ = await stars_shown(tg, other_centre, 2)
        heading, [first, second], _ = await stars_shown(tg, centre, 2)
        assert heading.text == (
            "2026 年 9 月“每月之星”评选\n以下是 2 个社区的提名，请为每个社区各评选一位。"
        )
        question = await asked(tg, centre, first, "评选 徐梦")
        assert question.text == (
            "确定评选 徐梦（2023010004）为第一社区 2026 年 9 月“每月之星”吗？\n"
            "评选结果会立即通知本社区，之后不能更改。"
        )
        query = await tg.user_press(centre.user, question, question.button_data("确定评选"))
        assert (await tg.wait_for_callback_answer(query)).text is None
        await prompt(tg, centre)  # the award's first question
        assert await centre.say("/cancel") == "已取消，没有提交任何内容。"
        # Community 2's board still picks: its Star is its own.
        assert await _yes(tg, centre, second, "评选 周娜燕", "确定评选") == ""
        await prompt(tg, centre)  # the award's first question

        assert (await prompt(tg, c1)).text == (
            "🌟 您提名的徐梦当选第一社区 2026 年 9 月“每月之星”。谢谢您的提名！"
        )
        assert (await prompt(tg, c2)).text == (
            "🌟 您提名的周娜燕当选第二社区 2026 年 9 月“每月之星”。谢谢您的提名！"
        )
        news = await prompt(tg, elsewhere)
        assert (news.text or "").startswith("🌟 第二社区 2026 年 9 月“每月之星”：周娜燕\n")
        # Community 1's Star is community 1's news only.
        assert [m for m in tg.pending_bot_messages(elsewhere.user.id) if m.edit_date is None] == []

        # Community 1's board as the other clerk saw it: its Star is chosen.
        late = await tg.user_press(other_centre.user, stale, stale.button_data("Pick 徐梦"))
        answer = await tg.wait_for_callback_answer(late)
        assert answer.text == "Community 1's Star of September 2026 has already been chosen: 徐梦."

        _, _, history = await stars_shown(tg, centre, 2)
        assert history.text == (
            "历届“每月之星”\n\n"
            "2026 年 9 月：徐梦（第一社区，社区评选）\n奖励：尚未记录\n\n"
            "2026 年 9 月：周娜燕（第二社区，社区评选）\n奖励：尚未记录"
        )
        assert labels(history) == [
            "🏅 记录颁奖：徐梦（2026 年 9 月）",
            "🏅 记录颁奖：周娜燕（2026 年 9 月）",
        ]
    awards = await stored(campus, StarAward)
    async with campus.unit_of_work() as session:
        communities = {c.code: c.id for c in (await session.scalars(select(Community))).all()}
    assert sorted((a.scope, a.scope_id) for a in awards if isinstance(a, StarAward)) == [
        ("community", communities["C1"]),
        ("community", communities["C2"]),
    ]


async def test_a_change_of_scope_mid_month_never_gives_a_month_a_second_star(
    campus: Database, tg: FakeTelegram, person: Person, invite: Invite, clock: Clock, tmp_path: Path
) -> None:
    async with running(
        make_application(campus, tg, clock, rules_dir=with_scope(tmp_path / "a", "community"))
    ):
        await _two_communities_nominate(tg, person, invite)
        centre = await linked(person, invite, SERVICE_CENTRE)
        _, [first, _], _ = await stars_shown(tg, centre, 2)
        assert await _yes(tg, centre, first, "评选 徐梦", "确定评选") == ""
        await prompt(tg, centre)  # the award's first question
    # The school's scope from now on: this month already has its Star.
    async with running(make_application(campus, tg, clock)):
        _, [first, second], _ = await stars_shown(tg, centre, 2)
        assert "已评出：徐梦（张超天评选）" in (first.text or "")
        assert labels(second) == []
        assert len(await stored(campus, StarAward)) == 1


async def test_two_clerks_saying_yes_at_once_for_two_communities_make_one_star(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    await _two_communities_nominate(tg, person, invite)
    centre = await linked(person, invite, SERVICE_CENTRE)
    other = await linked(person, invite, SERVICE_CENTRE_2)
    _, [first, _], _ = await stars_shown(tg, centre, 2)
    _, [_, second], _ = await stars_shown(tg, other, 2)
    mine = await asked(tg, centre, first, "评选 徐梦")
    theirs = await asked(tg, other, second, "评选 周娜燕")
    # Both presses are in Telegram before the bot takes either.
    queries = [
        await tg.user_press(centre.user, mine, mine.button_data("确定评选")),
        await tg.user_press(other.user, theirs, theirs.button_data("确定评选")),
    ]
    answers = await asyncio.gather(*(tg.wait_for_callback_answer(q) for q in queries))
    texts = sorted(a.text or "" for a in answers)
    assert texts[0] == "" and texts[1].startswith("全校 2026 年 9 月“每月之星”已经评出：")
    assert len(await stored(campus, StarAward)) == 1


async def _past_stars(db: Database, months: list[str]) -> None:
    """Stars of ``months`` (the school's, community 1's 徐梦 and 杨兰 in turn), picked by the
    Centre; every other one with its award recorded."""
    async with db.unit_of_work() as session:
        nominator = await repo.person_by_number(session, STUDENT)
        chooser = await repo.person_by_number(session, SERVICE_CENTRE)
        nominees = [await repo.person_by_number(session, n) for n in (FLOOR_1_LEADER, "2024010003")]
        assert nominator is not None and chooser is not None and all(nominees)
        c1 = await session.scalar(select(Community.id).where(Community.code == "C1"))
        assert c1 is not None
        for index, month in enumerate(months):
            nominee = nominees[index % 2]
            assert nominee is not None
            nomination = StarNomination(
                month=month,
                community_id=c1,
                nominator_person_id=nominator.id,
                nominee_person_id=nominee.id,
                reason="Tutors the whole floor",
                created_at=_end_of_nominations(month),
            )
            session.add(nomination)
            await session.flush()
            recorded = index % 2 == 0
            session.add(
                StarAward(
                    month=month,
                    scope="school",
                    scope_id=0,
                    community_id=c1,
                    person_id=nominee.id,
                    nomination_id=nomination.id,
                    chosen_by_person_id=chooser.id,
                    chosen_at=_end_of_nominations(month),
                    prize="证书" if recorded else None,
                    presented_on=date.fromisoformat(f"{month}-28") if recorded else None,
                    presented_by="学生社区服务中心" if recorded else None,
                )
            )


def _end_of_nominations(month: str) -> datetime:
    """10:00 on the 26th of ``month``, campus time: when its Star is picked."""
    return datetime.fromisoformat(f"{month}-26T02:00:00+00:00")


async def test_the_stars_so_far_newest_first_ten_a_page(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    months = [f"{2025 + (8 + i) // 12}-{(8 + i) % 12 + 1:02d}" for i in range(12)]
    assert (months[0], months[-1]) == ("2025-09", "2026-08")
    await _past_stars(campus, months)
    centre = await linked(person, invite, SERVICE_CENTRE)
    assert await centre.say("/stars") == "2026 年 9 月还没有“每月之星”提名。"
    history = await prompt(tg, centre)
    text = history.text or ""
    assert text.startswith(
        "历届“每月之星”（第 1 页）\n\n2026 年 8 月：杨兰（第一社区）\n奖励：尚未记录"
    )
    shown = [line.split("：")[0] for line in text.splitlines() if line.startswith("20")]
    assert shown == [f"{m[:4]} 年 {int(m[5:])} 月" for m in reversed(months)][:10]
    assert "2025 年 12 月：杨兰（第一社区）\n奖励：尚未记录" in text
    assert (
        "2025 年 11 月：徐梦（第一社区）\n"
        "奖励：证书（2025年11月28日（周五）由学生社区服务中心颁发）" in text
    )
    # A button for each Star of the page whose award is not recorded, then the next page.
    assert labels(history) == [
        "🏅 记录颁奖：杨兰（2026 年 8 月）",
        "🏅 记录颁奖：杨兰（2026 年 6 月）",
        "🏅 记录颁奖：杨兰（2026 年 4 月）",
        "🏅 记录颁奖：杨兰（2026 年 2 月）",
        "🏅 记录颁奖：杨兰（2025 年 12 月）",
        "较早 ›",
    ]

    await tg.user_press(centre.user, history, history.button_data("较早 ›"))
    older = await tg.wait_for_bot_message(
        centre.user.id, predicate=lambda m: m.message_id == history.message_id
    )
    assert older.text == (
        "历届“每月之星”（第 2 页）\n\n"
        "2025 年 10 月：杨兰（第一社区）\n奖励：尚未记录\n\n"
        "2025 年 9 月：徐梦（第一社区）\n奖励：证书（2025年9月28日（周日）由学生社区服务中心颁发）"
    )
    assert labels(older) == ["🏅 记录颁奖：杨兰（2025 年 10 月）", "‹ 较新"]
    await tg.user_press(centre.user, older, older.button_data("‹ 较新"))
    newer = await tg.wait_for_bot_message(
        centre.user.id, predicate=lambda m: m.message_id == history.message_id
    )
    assert newer.text == text


async def test_only_the_centre_picks_records_an_award_or_turns_the_pages(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT)
    await nominate(tg, student, XU_MENG_ZH, "每周在自习室为同学义务辅导高数")
    counsellor = await linked(person, invite, C1_COUNSELLOR)
    centre = await linked(person, invite, SERVICE_CENTRE, language="en")
    [nomination] = await stored(campus, StarNomination)
    assert isinstance(nomination, StarNomination)
    for chat in (student, counsellor):
        for data in (f"st:{nomination.id}", f"sty:{nomination.id}"):
            query = await tg.user_press(chat.user, await forged(edge, chat, data), data)
            answer = await tg.wait_for_callback_answer(query)
            assert answer.text == REFUSED and answer.show_alert
    assert await stored(campus, StarAward) == []

    _, [board], _ = await stars_shown(tg, centre, 1)
    assert await _yes(tg, centre, board, "Pick 徐梦", "Yes, pick") == ""
    await prompt(tg, centre)  # What is the award?
    [award] = await stored(campus, StarAward)
    assert isinstance(award, StarAward)
    for chat in (student, counsellor):
        for data in (f"sta:{award.id}", "sth:1"):
            query = await tg.user_press(chat.user, await forged(edge, chat, data), data)
            answer = await tg.wait_for_callback_answer(query)
            assert answer.text == REFUSED and answer.show_alert
    async with campus.unit_of_work() as session:
        asked_anyone = await session.scalars(
            select(ConversationState.person_id).where(
                ConversationState.status == ConversationStatus.ACTIVE
            )
        )
        assert {p for p in asked_anyone.all()} <= {award.chosen_by_person_id}
    refusals = await audit(campus, "star.refused")
    assert sorted(str(r.detail) for r in refusals).count(str({"award": award.id})) == 2
    assert sorted(str(r.detail) for r in refusals).count(str({"page": 1})) == 2
    assert len(refusals) == 8

    # The clerk's post is withdrawn while they answer: their Submit is refused, nothing kept.
    await prompt_after(tg, centre, "A certificate")
    by = await prompt_after(tg, centre, "Sep 30")
    async with campus.unit_of_work() as session:
        clerk = await repo.person_by_number(session, SERVICE_CENTRE)
        assert clerk is not None
        await session.execute(
            delete(RoleAssignment).where(
                RoleAssignment.person_id == clerk.id, RoleAssignment.role == Role.SERVICE_CENTRE
            )
        )
    summary = await press(tg, centre, by, "✔ the Community Service Centre")
    done = await press(tg, centre, summary, "✔ Submit")
    assert done.text == "You are not allowed to do this."
    [award] = await stored(campus, StarAward)
    assert isinstance(award, StarAward) and award.prize is None
    assert len(await audit(campus, "star.refused")) == 9


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_an_empty_history_says_so(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, language: str
) -> None:
    centre = await linked(person, invite, SERVICE_CENTRE, language=language)
    await centre.say("/stars")
    history = await prompt(tg, centre)
    assert (
        history.text
        == {
            "zh-CN": "历届“每月之星”\n还没有评出过“每月之星”。",
            "en": "Stars of the Month so far\nNo Star of the Month has been chosen yet.",
        }[language]
    )
    assert history.buttons == []
