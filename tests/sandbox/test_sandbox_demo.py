"""The sandbox's demo people (`assistant/demo.py`): everyone linked from the start, named in the
picker by what they do and where, and the first things to try."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from assistant import callbacks, directory
from assistant.app import running
from assistant.demo import DemoPeople
from assistant.domain import PersonStatus, Role, ScopeKind
from assistant.runner import DEMO_CAMPUS
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import FakeMessage
from assistant.sandbox.webchat import SandboxPerson, Words
from assistant.storage import repo
from assistant.storage.db import Database
from assistant.storage.models import Floor, RoleAssignment
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import C1_COUNSELLOR, FLOOR_1_LEADER, STUDENT
from tests.bot.test_reach import report
from tests.bot.test_report import prompt

B1_FLOOR_3_LEADER = "2023020001"  # 高艳芳
# Two hundred people link at once on a machine that may be busy.
SETTLE_TIMEOUT = 60.0


@pytest.fixture
async def campus(db: Database) -> Database:
    """The store with the demo campus imported, as the sandbox starts it."""
    async with db.unit_of_work() as session:
        await directory.import_org(session, directory.load_org(DEMO_CAMPUS))
    return db


@pytest.fixture
def telegram() -> FakeTelegram:
    """A fake Telegram on the real clock, as the sandbox runs it."""
    return FakeTelegram()


@pytest.fixture
def people(campus: Database, telegram: FakeTelegram) -> DemoPeople:
    return DemoPeople(telegram, campus)


def is_card(message: FakeMessage) -> bool:
    """A grid report's card: it carries the buttons that act on the report."""
    return any(
        callbacks.GRID_ISSUE.unpack(button.get("callback_data", "")) is not None
        for row in message.buttons
        for button in row
    )


async def name_of(db: Database, number: str) -> str:
    async with db.unit_of_work() as session:
        person = await repo.person_by_number(session, number)
    assert person is not None
    return person.name


async def test_a_report_reaches_a_floor_leader_nobody_has_been_on_the_page(
    campus: Database, telegram: FakeTelegram, people: DemoPeople
) -> None:
    tg = telegram
    assert await people.link_everyone() == len(await people.list_people())
    async with running(make_application(campus, tg, Clock())):
        await people.settled(SETTLE_TIMEOUT)
        student = Chat(tg, await people.become(STUDENT))
        for _ in tg.pending_bot_messages(student.user.id):
            await prompt(tg, student)  # the greeting of their link
        await tg.user_send(student.user, "/lang")
        offer = await prompt(tg, student)
        await tg.user_press(student.user, offer, offer.button_data("English"))
        await tg.wait_for_bot_message(student.user.id, predicate=lambda m: m.edit_date is not None)
        done = await report(tg, student, "Hygiene")
        leader_name = await name_of(campus, FLOOR_1_LEADER)
        assert leader_name in done and "cannot be reached" not in done

        # Found by name, not through the page: nobody has been the leader there.
        [leader] = [user for user in tg.users() if user.first_name == leader_name]
        card = await tg.wait_for_bot_message(leader.id, timeout=10, predicate=is_card)
        assert "washroom" in (card.text or "")
        assert await people.become(FLOOR_1_LEADER) is leader


async def test_everyone_links_once_and_sits_in_their_floors_group(
    telegram: FakeTelegram, people: DemoPeople
) -> None:
    tg = telegram
    linked = await people.link_everyone()
    assert await people.link_everyone() == 0
    users = [user for user in tg.users() if not user.is_bot]
    assert len(users) == linked == len(await people.list_people())
    # Each opened their invite link, which the bot takes once it runs.
    assert all((tg.messages(user.id)[0].text or "").startswith("/start ") for user in users)
    student = await people.become(STUDENT)
    leader = await people.become(FLOOR_1_LEADER)
    [group] = [chat for chat in tg.chats() if chat.is_group and student.id in chat.members]
    assert leader.id in group.members and group.title == "1号楼1层 · Building 1 floor 1"


def person(people: list[SandboxPerson], key: str) -> SandboxPerson:
    return next(p for p in people if p.key == key)


async def test_the_picker_says_what_each_person_does_and_where(people: DemoPeople) -> None:
    everyone = await people.list_people()
    counsellor = person(everyone, C1_COUNSELLOR)
    assert counsellor.group == Words("辅导员", "Counsellors")
    # A second post is named with its unit too: the counsellor also heads building 1's sub-station.
    assert counsellor.label == Words(
        "第一社区 辅导员；第一社区1号楼工作分站 分站站长",
        "Counsellor, Community 1; Sub-station head, Community 1 Building 1 Sub-station",
    )
    leader = person(everyone, B1_FLOOR_3_LEADER)
    assert leader.group == Words("层长", "Floor leaders")
    assert leader.label == Words("1号楼3层 层长", "Floor leader, Building 1 floor 3")
    assert leader.home == Words("1号楼302室 · 第一社区", "Building 1 room 302 · Community 1")
    student = person(everyone, STUDENT)
    assert (student.group, student.label) == (Words("学生", "Students"), Words("学生", "Student"))
    # Found by codes and by the floor as people say it, in both languages.
    for term in ("B1-1", "1号楼1层", "Building 1 floor 1", "C1", "BUS", "商学院"):
        assert term in student.terms
    # Sections in the chain's order, counsellors first and students last.
    groups = list(dict.fromkeys(p.group.en for p in everyone))
    assert groups[0] == "Counsellors" and groups[-1] == "Students"
    assert groups.index("Floor leaders") < groups.index("Dorm heads")


@pytest.mark.parametrize("leaderless", ["", "B1"], ids=["demo campus", "B1 without floor leaders"])
async def test_the_first_things_to_try_are_for_people_placed_to_try_them(
    campus: Database, people: DemoPeople, leaderless: str
) -> None:
    if leaderless:
        async with campus.unit_of_work() as session:
            building = await repo.building_by_code(session, leaderless)
            assert building is not None
            floors = select(Floor.id).where(Floor.building_id == building.id)
            await session.execute(
                delete(RoleAssignment).where(
                    RoleAssignment.role == Role.FLOOR_LEADER, RoleAssignment.scope_id.in_(floors)
                )
            )
    report, approve, broadcast = await people.suggestions()
    assert (report.kind, report.command) == ("report", "/report")
    assert (approve.kind, approve.command) == ("approve", "/pending")
    assert (broadcast.kind, broadcast.command) == ("broadcast", "/broadcast")
    async with campus.unit_of_work() as session:
        [student] = [p for p in await repo.listings(session) if p.number == report.key]
        assert student.floor_id is not None and not student.roles
        community = await repo.unit_above(
            session, ScopeKind.FLOOR, student.floor_id, ScopeKind.COMMUNITY
        )
        assert community is not None
        # Their floor has a leader to take the report; their community's counsellor decides
        # their bookings and speaks to their floor.
        assert await repo.holders(session, [(Role.FLOOR_LEADER, ScopeKind.FLOOR, student.floor_id)])
        counsellors = await repo.holders(
            session, [(Role.COUNSELLOR, ScopeKind.COMMUNITY, community)]
        )
        counsellor = await repo.person_by_number(session, approve.key)
    assert student.status is PersonStatus.STUDENT
    assert counsellor is not None
    assert counsellor.id in {holder.person_id for holder in counsellors}
    assert broadcast.key == approve.key
