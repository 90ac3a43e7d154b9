"""Linking accounts, strangers, binding group chats, and who is who on a floor, end to end."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from assistant.app import AssistantApp, running
from assistant.domain import ScopeKind
from assistant.sandbox import FakeTelegram
from assistant.storage.db import Database
from assistant.storage.models import AuditEntry, GroupChat, TelegramAccount
from tests.bot.conftest import Chat, Clock, make_application

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]

STUDENT = "2023010001"  # 郑博嘉, B1-101, no role
FLOOR_1_LEADER = "2023010004"  # 徐梦, floor leader of B1-1
FLOOR_3_LEADER = "2023020001"  # 高艳芳, floor leader of B1-3
FLOOR_1_GRID = "2024010003"  # 杨兰, grid party member of B1-G1 (floors 1-2)
FLOOR_3_GRID = "2023010009"  # 王强鹏, grid party member of B1-G2 (floors 3-4)
C1_COUNSELLOR = "T0005"  # 朱晓雪
C2_COUNSELLOR = "T0006"


async def linked(person: Person, invite: Invite, number: str, language: str = "zh-hans") -> Chat:
    chat = person(number, language_code=language)
    await chat.say(f"/start {await invite(number)}")
    return chat


async def personal_menu(tg: FakeTelegram, chat: Chat) -> list[str]:
    """The commands ``chat``'s person sees once the bot has set their own menu.

    The bot sets it after the link commits, beside the reply: either may arrive first.
    """

    def commands() -> list[str]:
        return [c["command"] for c in tg.visible_commands(chat.user)]

    await tg.wait_until(lambda: commands() != ["start", "help"])
    return commands()


async def accounts(db: Database) -> int:
    async with db.unit_of_work() as session:
        return await session.scalar(select(func.count()).select_from(TelegramAccount)) or 0


async def test_invited_user_links_and_sees_their_dorm(
    bot: AssistantApp, person: Person, invite: Invite, campus: Database
) -> None:
    student = person("Zheng", language_code="zh-hans")
    reply = await student.say(f"/start {await invite(STUDENT)}")
    assert "绑定成功，郑博嘉" in reply
    # The grid is named by its building and floors, never by its code.
    assert await student.say("/me") == (
        "郑博嘉（2023010001，学生）\n学院：商学院\n社区：第一社区\n"
        "宿舍：1号楼 101 室（1 层）\n网格：1号楼 1–2 层\n"
        "学生党员层长：徐梦\n网格党员：杨兰\n社区辅导员：朱晓雪\n"
        # The party organisation the dorm belongs to, as the plan (§六) builds it.
        "学生社区党支部：第一社区学生党支部\n网格党小组组长：王轩燕\n"
        "楼栋党建工作中心负责人：王琪华\n学生社区党支部书记：黄娟磊\n社区楼工作分站站长：朱晓雪"
    )
    assert await accounts(campus) == 1


@pytest.mark.parametrize(
    ("language", "greeting"),
    [
        ("zh-hans", "绑定成功，朱晓雪！\n发送 /help 查看您可以使用的功能。"),
        ("en", "You are linked, 朱晓雪!\nSend /help to see what you can do."),
    ],
)
async def test_someone_without_a_dorm_is_not_pointed_to_one(
    bot: AssistantApp, person: Person, invite: Invite, language: str, greeting: str
) -> None:
    # /me and /leaders are about a dorm and its floor: a counsellor has neither.
    counsellor = person("Zhu", language_code=language)
    assert await counsellor.say(f"/start {await invite(C1_COUNSELLOR)}") == greeting


async def test_me_names_the_grid_by_its_building_and_floors_in_english(
    bot: AssistantApp, person: Person, invite: Invite
) -> None:
    student = await linked(person, invite, FLOOR_3_GRID, language="en")
    me = await student.say("/me")
    assert me.splitlines()[3:5] == [
        "Dorm: Building 1, room 401 (floor 4)",
        "Grid: Building 1, floors 3–4",
    ]


async def test_reused_token_is_refused(
    bot: AssistantApp, person: Person, invite: Invite, campus: Database
) -> None:
    token = await invite(STUDENT)
    first, second = person("First"), person("Second", language_code="en")
    assert "绑定成功" in await first.say(f"/start {token}")
    assert "already been used" in await second.say(f"/start {token}")
    # The owner opening the link again is told they are linked, not refused.
    assert "已经绑定过了" in await first.say(f"/start {token}")
    assert await accounts(campus) == 1
    assert "invite link" in await second.say("/me")


async def test_expired_and_unknown_tokens_are_refused(
    bot: AssistantApp, person: Person, invite: Invite, clock: Clock, campus: Database
) -> None:
    token = await invite(STUDENT)
    clock.advance(timedelta(days=15))
    someone = person("Late", language_code="en")
    assert "expired" in await someone.say(f"/start {token}")
    assert "not valid" in await someone.say("/start not-a-real-token")
    assert await accounts(campus) == 0


async def test_one_account_cannot_speak_for_two_people(
    bot: AssistantApp, person: Person, invite: Invite, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT)
    reply = await student.say(f"/start {await invite(FLOOR_1_LEADER)}")
    assert "已绑定为 郑博嘉" in reply
    assert await accounts(campus) == 1


@pytest.mark.parametrize("text", ["hello", "/me", "/leaders B1-1", "/start"])
async def test_unknown_user_gets_a_polite_explanation_and_nothing_more(
    bot: AssistantApp, person: Person, text: str
) -> None:
    stranger = person("Stranger", language_code="en")
    reply = await stranger.say(text)
    assert "invite link" in reply
    assert "徐梦" not in reply and "B1" not in reply


async def test_stranger_in_a_group_is_refused_only_when_addressing_the_bot(
    bot: AssistantApp, person: Person, tg: FakeTelegram
) -> None:
    stranger = person("Stranger", language_code="en")
    group = await tg.add_group("B1 floor 1", [stranger.user])
    await tg.wait_for_bot_message(group.id)  # the greeting on being added
    await tg.user_send(stranger.user, "hi all", group)
    assert "invite link" in await stranger.say("/bind B1-1", group.id)
    assert tg.pending_bot_messages(group.id) == []


async def test_floor_leader_binds_their_floor_and_a_student_is_refused(
    bot: AssistantApp, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER)
    student = await linked(person, invite, STUDENT)
    group = await tg.add_group("1号楼1层", [leader.user, student.user])
    greeting = await tg.wait_for_bot_message(group.id)
    assert greeting.text is not None and "/bind" in greeting.text

    refused = await student.say("/bind B1-1", group.id)
    assert "无法绑定" in refused and "层长" in refused
    assert "无法绑定" in await leader.say("/bind B1-3", group.id)  # not their floor
    assert "已绑定到1号楼 1 层" in await leader.say("/bind", group.id)

    async with campus.unit_of_work() as session:
        chats = (await session.scalars(select(GroupChat))).all()
        audit = (await session.scalars(select(AuditEntry.action))).all()
    assert [(c.chat_id, c.scope_kind) for c in chats] == [(group.id, ScopeKind.FLOOR)]
    assert audit.count("group.bind") == 1
    # In the bound group, /leaders needs no floor.
    assert "徐梦" in await student.say("/leaders", group.id)


async def test_counsellor_binds_a_building_of_their_community_only(
    bot: AssistantApp, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    other = await linked(person, invite, C2_COUNSELLOR, language="en")
    group = await tg.add_group("Building 1", [counsellor.user, other.user])
    await tg.wait_for_bot_message(group.id)
    assert "Not bound" in await other.say("/bind B1", group.id)
    assert "please name" in (await counsellor.say("/bind", group.id)).lower()
    assert "now bound to Building 1" in await counsellor.say("/bind B1", group.id)
    assert "No such floor" in await counsellor.say("/bind B9", group.id)


async def test_leaders_lists_the_right_people_for_two_floors(
    bot: AssistantApp, person: Person, invite: Invite
) -> None:
    student = await linked(person, invite, STUDENT)
    first = await student.say("/leaders")  # home floor B1-1
    third = await student.say("/leaders B1-3")
    assert "1号楼 1 层" in first and "徐梦" in first and "杨兰" in first
    assert "高艳芳" not in first and "王强鹏" not in first
    assert "1号楼 3 层" in third and "高艳芳" in third and "王强鹏" in third
    assert "徐梦" not in third and "杨兰" not in third
    for reply in (first, third):
        assert "朱晓雪" in reply  # the counsellor of community C1 covers both floors
    assert "没有找到楼层" in await student.say("/leaders B1-99")


async def test_language_switch_and_personal_menu(
    bot: AssistantApp, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    student = await linked(person, invite, STUDENT)
    assert await personal_menu(tg, student) == [
        "report",
        "service",
        "book",
        "bookings",
        "nominate",
        "mine",
        "myactivities",
        "onduty",
        "talk",
        "talks",
        "me",
        "leaders",
        "lang",
        "cancel",
        "help",
    ]
    assert "用法" in await student.say("/lang fr")
    assert "English" in await student.say("/lang en")
    help_text = await student.say("/help")
    assert "/leaders" in help_text and "/bind" not in help_text
    # Everything in the menu is explained; what only role holders do is not offered.
    assert all(
        f"/{name}" in help_text for name in ("service", "book", "bookings", "nominate", "mine")
    )
    assert "/pending" not in help_text and "/broadcast" not in help_text

    def described() -> dict[str, str]:
        return {c["command"]: c["description"] for c in tg.visible_commands(student.user)}

    # The menu follows the language, set after /lang committed.
    await tg.wait_until(lambda: described()["me"] == "My dorm, grid and leaders")


async def test_help_shows_bind_to_those_who_may_bind(
    bot: AssistantApp, person: Person, invite: Invite
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    await leader.say("/lang en")
    reply = await leader.say("/help")
    assert ("/bind" in reply and "Floor leader" in reply.capitalize()) or "floor leader" in reply
    # Reports of the floor wait for them; broadcasting is not a floor leader's (access.yaml).
    assert "/pending" in reply and "/broadcast" not in reply


async def test_default_menus_are_published_at_start(
    bot: AssistantApp, person: Person, tg: FakeTelegram
) -> None:
    english = person("Eve", language_code="en")
    chinese = person("Wang", language_code="zh-hans")
    assert [c["command"] for c in tg.visible_commands(english.user)] == ["start", "help"]
    assert tg.visible_commands(english.user)[1]["description"] == "What I can do"
    assert tg.visible_commands(chinese.user)[1]["description"] == "我能做什么"


async def test_a_failing_menu_call_at_start_never_stops_the_bot(
    campus: Database, tg: FakeTelegram, person: Person, invite: Invite, clock: Clock
) -> None:
    tg.inject_fault("setMyCommands", "5xx", count=100)
    application = make_application(campus, tg, clock)
    async with running(application):
        student = await linked(person, invite, STUDENT)
        assert "郑博嘉" in await student.say("/me")
    assert tg.calls_to("setMyCommands")
    assert tg.visible_commands(student.user) == []
