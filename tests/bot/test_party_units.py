"""The party organisation of a person's building, end to end: /me and /leaders name the branch
and its secretary, the grid's party group leader, the building centre's and sub-station's heads
(and /leaders the community party working committee's secretary), in Chinese and English."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from assistant.app import AssistantApp
from tests.bot.conftest import Chat

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]

B1_STUDENT = "2023010001"  # 郑博嘉, B1-101: grid B1-G1, branch C1-B1, sub-station C1-S1
B3_STUDENT = "2023020002"  # 罗娟洋, B3-101: grid B3-G1, branch C3-B1, sub-station C3-S1


async def linked(person: Person, invite: Invite, number: str, language: str) -> Chat:
    chat = person(number, language_code=language)
    await chat.say(f"/start {await invite(number)}")
    return chat


async def test_me_names_my_branch_and_the_heads_over_my_building_in_chinese(
    bot: AssistantApp, person: Person, invite: Invite
) -> None:
    student = await linked(person, invite, B1_STUDENT, "zh-hans")

    lines = (await student.say("/me")).splitlines()

    for line in (
        "学生社区党支部：第一社区学生党支部",
        "学生社区党支部书记：黄娟磊",
        "网格党小组组长：王轩燕",
        "楼栋党建工作中心负责人：王琪华",
        "社区楼工作分站站长：朱晓雪",
    ):
        assert line in lines, "\n".join(lines)
    # The party group leader of the other grid of the building is not mine.
    assert not any("黄欣" in line for line in lines)


async def test_me_names_my_branch_and_the_heads_over_my_building_in_english(
    bot: AssistantApp, person: Person, invite: Invite
) -> None:
    student = await linked(person, invite, B3_STUDENT, "en")

    lines = (await student.say("/me")).splitlines()

    for line in (
        "Party branch: Community 3 Student Party Branch",
        "Student community party branch secretary: 王嘉然",
        "Grid party group leader: 王春",
        "Building party-building centre head: 杨涛英",
        "Building sub-station head: 邓远刚",
    ):
        assert line in lines, "\n".join(lines)


async def test_leaders_names_the_party_organisation_over_a_floor_in_chinese(
    bot: AssistantApp, person: Person, invite: Invite
) -> None:
    student = await linked(person, invite, B1_STUDENT, "zh-hans")

    home = (await student.say("/leaders")).splitlines()
    third = (await student.say("/leaders B1-3")).splitlines()

    for lines in (home, third):
        for line in (
            "学生社区党支部：第一社区学生党支部",
            "社区楼工作分站：第一社区1号楼工作分站",
            "学生社区党支部书记：黄娟磊",
            "楼栋党建工作中心负责人：王琪华",
            "社区楼工作分站站长：朱晓雪",
            "社区党工委书记：王春浩",
        ):
            assert line in lines, "\n".join(lines)
    # Each floor's grid has its own party group leader.
    assert "网格党小组组长：王轩燕" in home and "网格党小组组长：黄欣" not in home
    assert "网格党小组组长：黄欣" in third and "网格党小组组长：王轩燕" not in third


async def test_leaders_names_the_party_organisation_over_a_floor_in_english(
    bot: AssistantApp, person: Person, invite: Invite
) -> None:
    student = await linked(person, invite, B3_STUDENT, "en")

    lines = (await student.say("/leaders")).splitlines()

    for line in (
        "Party branch: Community 3 Student Party Branch",
        "Sub-station: Community 3 Building 3 Sub-station",
        "Grid party group leader: 王春",
        "Building party-building centre head: 杨涛英",
        "Student community party branch secretary: 王嘉然",
        "Building sub-station head: 邓远刚",
        "Community party working committee secretary: 周诗",
    ):
        assert line in lines, "\n".join(lines)
