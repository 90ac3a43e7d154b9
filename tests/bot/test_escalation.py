"""A grid issue left unresolved climbs its chain (rules/escalation.yaml) at its deadlines: by
default the plan's grid chain (§六), grid party member → grid party group leader → student
community party branch secretary → college party organisation leader, skipping a tier nobody
can be reached in, never down to one floor of a grid of two, the counsellor told at the tier the
rules name; private reports stay with the counsellors."""

from __future__ import annotations

import argparse
import io
import re
import shutil
import textwrap
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from assistant.app import Edge, StartupError, running
from assistant.callbacks import GRID_ISSUE
from assistant.cli import cmd_explain
from assistant.config import REPO_ROOT, load_settings
from assistant.domain import IssueStatus, Role, ScopeKind
from assistant.sandbox import FakeTelegram
from assistant.storage.db import Database
from assistant.storage.models import AuditEntry, College, GridIssue, OutboxMessage
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_grid_lifecycle import card_of, edited, forge, labels
from tests.bot.test_identity import (
    C1_COUNSELLOR,
    FLOOR_1_GRID,
    FLOOR_1_LEADER,
    STUDENT,
    linked,
)
from tests.bot.test_report import press, prompt

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]
C1_WORKSTATION_HEAD = "T0004"
# B1-G1 is floors 1 and 2 of Building 1; its party group leader also leads floor 2.
GRID_GROUP_LEADER = "2022010001"  # 王轩燕
BRANCH_SECRETARY = "2023010007"  # 黄娟磊, of the C1-B1 branch, which holds Building 1
BUS_PARTY_LEADER = "T0001"  # 王春浩, of the Business School, which leads Community 1


async def report_hygiene(tg: FakeTelegram, student: Chat, category: str = "Hygiene") -> str:
    """The student reports rubbish on their floor (normal urgency: hygiene is the floor
    leader's, anything else the grid party member's); returns the bot's answer to Submit."""
    await tg.user_send(student.user, "/report")
    categories = await prompt(tg, student)
    location = await press(tg, student, categories, category)
    await press(tg, student, location, location.buttons[0][0]["text"])
    await tg.user_send(student.user, "Rubbish piling up by the stairs")
    photo = await prompt(tg, student)
    urgency = await press(tg, student, photo, "Skip")
    summary = await press(tg, student, urgency, "Normal")
    return (await press(tg, student, summary, "✔ Submit")).text or ""


async def issue_of(db: Database) -> GridIssue:
    async with db.unit_of_work() as session:
        issue = await session.scalar(select(GridIssue))
    assert issue is not None
    return issue


async def issues_of(db: Database) -> list[GridIssue]:
    async with db.unit_of_work() as session:
        return list(await session.scalars(select(GridIssue).order_by(GridIssue.id)))


async def escalations(db: Database, action: str = "grid.escalated") -> list[dict[str, object]]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return [row.detail for row in rows]


async def cards_to(db: Database, chat: Chat) -> list[str]:
    """The refs of every card of a report queued for ``chat``, sent or not, oldest first: what
    the store says went there, whatever the fake Telegram has delivered so far."""
    async with db.unit_of_work() as session:
        refs = await session.scalars(
            select(OutboxMessage.ref)
            .where(OutboxMessage.chat_id == chat.user.id, OutboxMessage.ref.startswith("grid:"))
            .order_by(OutboxMessage.id)
        )
        return [ref for ref in refs if ref is not None]


async def climbed(edge: Edge, clock: Clock, hours: float) -> None:
    """The bot's clock moves on ``hours`` and the deadlines due by then fire."""
    clock.advance(timedelta(hours=hours))
    await edge.scheduler.run_due()


async def test_a_report_climbs_the_plans_grid_chain_and_never_down_to_a_floor(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    floor_leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    member = await linked(person, invite, FLOOR_1_GRID, language="en")
    group = await linked(person, invite, GRID_GROUP_LEADER, language="en")
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    head = await linked(person, invite, C1_WORKSTATION_HEAD, language="en")
    college = await linked(person, invite, BUS_PARTY_LEADER, language="en")
    # The party branch's secretary has not linked: their tier is skipped.
    student = await linked(person, invite, STUDENT, language="en")
    done = await report_hygiene(tg, student, "Other")
    assert "It is with the grid party member, 杨兰. " in done
    assert "If it is not resolved by Wed 2 Sep 16:00" in done
    first = await card_of(tg, member)

    # 24 hours (normal urgency): up to the party group of the grid, floors 1 and 2.
    await climbed(edge, clock, 24)
    news = await prompt(tg, student)
    assert news.text == (
        "Your report R-1 (Other · Building 1, room 101) was not resolved in time, so it now "
        "goes to the grid party group leader. Next deadline: Thu 3 Sep 16:00."
    )
    second = await card_of(tg, group)
    assert (second.text or "").startswith("For you to handle: report R-1\n")
    assert "Resolved" in " ".join(labels(second))
    moved = await edited(tg, member, first)
    assert (moved.text or "").startswith("Moved up to the grid party group leader: report R-1\n")
    assert labels(moved) == []
    # The counsellor is told only once the report leaves the grid.
    assert await cards_to(campus, counsellor) == []

    # Nobody of the party branch can be reached: on to the college that leads the community.
    await climbed(edge, clock, 24)
    assert "goes to the college party organisation leader" in (
        (await prompt(tg, student)).text or ""
    )
    top = await card_of(tg, college)
    assert (top.text or "").startswith("For you to handle: report R-1\n")
    told = await card_of(tg, counsellor)
    assert (told.text or "").startswith(
        "For your information: report R-1, now with the college party organisation leader\n"
    )
    assert labels(told) == []
    issue = await issue_of(campus)
    async with campus.unit_of_work() as session:
        business = await session.scalar(select(College).where(College.code == "BUS"))
    assert business is not None
    assert (issue.assignee_role, issue.assignee_scope_kind, issue.assignee_scope_id) == (
        Role.COLLEGE_PARTY_LEADER,
        ScopeKind.COLLEGE,
        business.id,
    )
    assert await escalations(campus) == [
        {
            "issue": 1,
            "chain": "grid-chain",
            "skipped": [],
            "from": "grid_party_member",
            "to": "grid_group_leader",
        },
        {
            "issue": 1,
            "chain": "grid-chain",
            "skipped": [["branch_secretary", "unreachable"]],
            "informed": ["counsellor"],
            "from": "grid_group_leader",
            "to": "college_party_leader",
        },
    ]

    # The top of the chain: the next deadline reminds the college, and nothing goes down.
    await climbed(edge, clock, 24)
    again = await card_of(tg, college)
    assert (again.text or "").startswith("For you to handle: report R-1\n")
    assert await escalations(campus, "grid.reminded") == [
        {"issue": 1, "chain": "grid-chain", "skipped": [], "role": "college_party_leader"}
    ]
    assert len(await escalations(campus)) == 2
    # Neither floor 1's leader nor the old chain's workstation head ever had the report.
    assert await cards_to(campus, floor_leader) == []
    assert await cards_to(campus, head) == []
    assert await cards_to(campus, counsellor) == ["grid:1:told"]

    # The college resolves it; the counsellor's copy follows.
    await tg.user_press(college.user, again, again.button_data("✅ Resolved"))
    resolved = await edited(tg, counsellor, told)
    assert (resolved.text or "").startswith("Resolved by 王春浩: report R-1\n")


async def explained(db: Database, issue: int, language: str) -> list[str]:
    """What ``assistant explain ISSUE`` prints, on the bot's store, in ``language``."""
    out = io.StringIO()
    settings = load_settings(database_url=db.url, language=language)
    await cmd_explain(settings, argparse.Namespace(issue=issue), out)
    return out.getvalue().splitlines()


async def test_explain_shows_each_climb_the_rule_and_the_tiers_skipped(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    college = await linked(person, invite, BUS_PARTY_LEADER, language="en")
    member = await linked(person, invite, FLOOR_1_GRID, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await report_hygiene(tg, student, "Other")
    await card_of(tg, member)
    # Nobody of the grid's party group nor of the branch has linked, nor any counsellor.
    await climbed(edge, clock, 24)
    await card_of(tg, college)
    await climbed(edge, clock, 24)

    english = await explained(campus, 1, "en")
    assert english[0] == "#1: routed by 'default' to college_party_leader"
    chain = english.index("escalation chain:")
    assert re.fullmatch(
        r"grid_party_member → grid_group_leader → branch_secretary \(inform counsellor\) → "
        r"college_party_leader; hours \{high: 2, normal: 24, low: 72\}; otherwise counsellor "
        r"\(rule 'grid-chain', rules/escalation\.yaml:\d+\)",
        english[chain + 1],
    )
    assert english[chain + 3 :] == [
        "  2026-09-02 16:00 climbed at its deadline: grid_party_member → college_party_leader "
        "(chain 'grid-chain'); skipped grid_group_leader: nobody holding it can be reached; "
        "skipped branch_secretary: nobody holding it can be reached; informed counsellor",
        "  2026-09-03 16:00 stayed at its deadline, reminded: college_party_leader "
        "(chain 'grid-chain')",
    ]
    chinese = await explained(campus, 1, "zh-CN")
    assert chinese[-2:] == [
        "  2026-09-02 16:00 超时上移：grid_party_member → college_party_leader（链条 "
        "'grid-chain'）；跳过 grid_group_leader：无人能联系上（未绑定或已屏蔽机器人）；跳过 "
        "branch_secretary：无人能联系上（未绑定或已屏蔽机器人）；告知 counsellor",
        "  2026-09-03 16:00 超时未上移，已提醒：college_party_leader（链条 'grid-chain'）",
    ]


async def test_a_report_of_a_floor_leader_joins_the_grid_chain_in_chinese(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER)
    member = await linked(person, invite, FLOOR_1_GRID)
    branch = await linked(person, invite, BRANCH_SECRETARY)
    counsellor = await linked(person, invite, C1_COUNSELLOR)
    student = await linked(person, invite, STUDENT)
    await report_hygiene_in_chinese(tg, student)
    first = await card_of(tg, leader)
    assert (first.text or "").startswith("请您处理：上报 R-1\n")

    # Hygiene is the floor leader's: unresolved, it goes to the grid of the floor.
    await climbed(edge, clock, 24)
    assert (await prompt(tg, student)).text == (
        "您的上报 R-1（卫生问题 · 1号楼 101 室）未在时限内解决，已上报给网格党员。"
        "下一个处理时限：9月3日（周四）16:00。"
    )
    assert ((await card_of(tg, member)).text or "").startswith("请您处理：上报 R-1\n")
    assert ((await edited(tg, leader, first)).text or "").startswith("已上报给网格党员：上报 R-1\n")
    # The grid's party group leader has not linked: on to the branch, and the counsellor is told.
    await climbed(edge, clock, 24)
    assert "已上报给学生社区党支部书记" in ((await prompt(tg, student)).text or "")
    assert ((await card_of(tg, branch)).text or "").startswith("请您处理：上报 R-1\n")
    told = await card_of(tg, counsellor)
    assert (told.text or "").startswith("供您知悉：上报 R-1，现由学生社区党支部书记处理\n")
    assert labels(told) == []
    assert [(e["from"], e["to"], e["skipped"]) for e in await escalations(campus)] == [
        ("floor_leader", "grid_party_member", []),
        ("grid_party_member", "branch_secretary", [["grid_group_leader", "unreachable"]]),
    ]


async def report_hygiene_in_chinese(tg: FakeTelegram, student: Chat) -> None:
    """The student reports rubbish on their floor in Chinese (normal urgency)."""
    await tg.user_send(student.user, "/report")
    categories = await prompt(tg, student)
    location = await press(tg, student, categories, "卫生问题")
    await press(tg, student, location, location.buttons[0][0]["text"])
    await tg.user_send(student.user, "楼梯口堆满垃圾")
    photo = await prompt(tg, student)
    urgency = await press(tg, student, photo, "跳过")
    summary = await press(tg, student, urgency, "一般")
    await press(tg, student, summary, "✔ 提交")


async def test_a_resolved_report_does_not_climb(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await report_hygiene(tg, student)
    card = await card_of(tg, leader)
    await tg.user_press(leader.user, card, card.button_data("✅ Resolved"))
    await edited(tg, leader, card)
    assert (await issue_of(campus)).status is IssueStatus.RESOLVED
    clock.advance(timedelta(days=3))
    await edge.scheduler.run_due()
    assert await escalations(campus) == []
    assert tg.state.bot_outbox.get(counsellor.user.id, []) == []


async def test_a_private_report_never_leaves_the_counsellors(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    head = await linked(person, invite, C1_WORKSTATION_HEAD, language="en")
    college = await linked(person, invite, BUS_PARTY_LEADER, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await report_in_need(tg, student)
    await card_of(tg, counsellor)
    clock.advance(timedelta(hours=2))
    await edge.scheduler.run_due()
    # Reminded with the card again; nobody up the chain ever sees it.
    again = await card_of(tg, counsellor)
    assert "My roommate has not eaten for days" in (again.text or "")
    assert (await issue_of(campus)).assignee_role is Role.COUNSELLOR
    assert await escalations(campus) == []
    assert await escalations(campus, "grid.reminded") == [
        {"issue": 1, "private": True, "role": "counsellor"}
    ]
    assert await cards_to(campus, head) == [] and await cards_to(campus, college) == []
    said = await explained(campus, 1, "en")
    assert said[-1] == (
        "  2026-09-01 18:00 stayed at its deadline, reminded: counsellor "
        "(private: it stays with the counsellors)"
    )


async def test_a_reopened_report_climbs_again(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    member = await linked(person, invite, FLOOR_1_GRID, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await report_hygiene(tg, student)  # deadline 24 hours on, at 2026-09-02 16:00
    card = await card_of(tg, leader)
    await tg.user_press(leader.user, card, card.button_data("✅ Resolved"))
    news = await prompt(tg, student)
    # Two hours later the reporter reopens it: a new round, with a deadline of its own.
    clock.advance(timedelta(hours=2))
    await press(tg, student, news, "Reopen")
    await tg.user_send(student.user, "Still there")
    summary = await prompt(tg, student)
    await press(tg, student, summary, "✔ Submit")
    assert "Reopened" in ((await card_of(tg, leader)).text or "")
    # The first round's deadline no longer counts ...
    clock.advance(timedelta(hours=22))
    await edge.scheduler.run_due()
    assert await escalations(campus) == []
    # ... the new one does.
    clock.advance(timedelta(hours=2))
    await edge.scheduler.run_due()
    assert "goes to the grid party member" in ((await prompt(tg, student)).text or "")
    taken = await card_of(tg, member)
    assert "Reopened (郑博嘉): Still there" in (taken.text or "")
    assert await escalations(campus) == [
        {
            "issue": 1,
            "chain": "grid-chain",
            "skipped": [],
            "from": "floor_leader",
            "to": "grid_party_member",
        }
    ]


async def report_in_need(tg: FakeTelegram, student: Chat) -> None:
    """The student reports, anonymously, a roommate in difficulty (a private report)."""
    await tg.user_send(student.user, "/report")
    category = await prompt(tg, student)
    location = await press(tg, student, category, "A student needs help")
    await press(tg, student, location, location.buttons[0][0]["text"])
    await tg.user_send(student.user, "My roommate has not eaten for days")
    photo = await prompt(tg, student)
    urgency = await press(tg, student, photo, "Skip")
    anonymous = await press(tg, student, urgency, "Urgent")
    summary = await press(tg, student, anonymous, "Yes")
    await press(tg, student, summary, "✔ Submit")


async def test_a_floor_leader_cannot_act_on_a_private_report_of_their_floor(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await report_in_need(tg, student)
    await card_of(tg, counsellor)
    for action in ("ack", "res", "not", "unr"):
        await forge(tg, leader, GRID_ISSUE.pack(issue=1, action=action))
    issue = await issue_of(campus)
    assert (issue.status, issue.assignee_role) == (IssueStatus.OPEN, Role.COUNSELLOR)
    async with campus.unit_of_work() as session:
        refused = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "grid.refused")
        )
        assert [a.detail["action"] for a in refused] == ["ack", "res", "not", "unr"]
    # Nothing of the report reached the floor leader, not even a question about it.
    told = [m.text or "" for m in tg.state.bot_outbox.get(leader.user.id, [])]
    assert not any("roommate" in text or "Why" in text for text in told)


PRIVATE_TO_FLOOR_LEADERS = """
rules:
  - id: everything-to-floor-leaders
    description: a routing file that forgets private reports
    when: 'true'
    assign: floor_leader
"""


async def test_a_private_report_goes_to_the_counsellors_whatever_the_routing_file_says(
    campus: Database, person: Person, invite: Invite, tg: FakeTelegram, clock: Clock, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules)
    (rules / "routing.yaml").write_text(textwrap.dedent(PRIVATE_TO_FLOOR_LEADERS), encoding="utf-8")
    async with running(make_application(campus, tg, clock, rules_dir=rules)):
        leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
        counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
        student = await linked(person, invite, STUDENT, language="en")
        await report_hygiene(tg, student)
        assert "Rubbish" in ((await card_of(tg, leader)).text or "")
        await report_in_need(tg, student)
        assert "roommate" in ((await card_of(tg, counsellor)).text or "")
        private = (await issues_of(campus))[1]
        assert (private.private, private.assignee_role) == (True, Role.COUNSELLOR)
        assert all(
            "roommate" not in (m.text or "") for m in tg.state.bot_outbox.get(leader.user.id, [])
        )


async def test_a_report_joins_a_chain_at_its_first_tier_not_below_those_who_have_it(
    campus: Database, person: Person, invite: Invite, tg: FakeTelegram, clock: Clock, tmp_path: Path
) -> None:
    """A chain that starts at the floor leaders: a report the grid party member has joins it
    at the first tier not below the grid, never at floor 1's leader."""
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules)
    (rules / "escalation.yaml").write_text(textwrap.dedent(FLOOR_FIRST), encoding="utf-8")
    async with running(make_application(campus, tg, clock, rules_dir=rules)) as edge:
        floor_leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
        await linked(person, invite, FLOOR_1_GRID, language="en")
        counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
        student = await linked(person, invite, STUDENT, language="en")
        assert "It is with the grid party member" in await report_hygiene(tg, student, "Other")
        # One hour, the file's: the floor leader's tier is below the grid, so the counsellor.
        await climbed(edge, clock, 1)
        taken = await card_of(tg, counsellor)
        assert (taken.text or "").startswith("For you to handle: report R-1\n")
        assert await cards_to(campus, floor_leader) == []
        assert [(e["from"], e["to"]) for e in await escalations(campus)] == [
            ("grid_party_member", "counsellor")
        ]


FLOOR_FIRST = """
rules:
  - id: floor-first
    when: true
    hours: 1
    tiers:
      - role: floor_leader
      - role: counsellor
"""

BROKEN_TIERS = """
rules:
  - id: grid-chain
    when: true
    hours: {high: 2, normal: 24, lo: 72}
    tiers:
      - role: grid_party_member
      - role: floor_leader
      - role: grid_grop_leader
      - role: college_party_leader
        inform: [counselor]
"""


def test_a_broken_escalation_file_stops_the_start(
    campus: Database, tg: FakeTelegram, clock: Clock, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules)
    (rules / "escalation.yaml").write_text(textwrap.dedent(BROKEN_TIERS), encoding="utf-8")
    with pytest.raises(StartupError) as raised:
        make_application(campus, tg, clock, rules_dir=rules)
    assert raised.value.problems == [
        "rules/escalation.yaml:5 [grid-chain]: unknown key 'lo' in hours (did you mean 'low'?)",
        "rules/escalation.yaml:8 [grid-chain]: tier 'floor_leader' (held at a floor) comes after "
        "'grid_party_member' (held at a grid): a report never climbs down; list the tiers "
        "bottom first",
        "rules/escalation.yaml:9 [grid-chain]: unknown role 'grid_grop_leader' (did you mean "
        "'grid_group_leader'?)",
        "rules/escalation.yaml:11 [grid-chain]: unknown role 'counselor' (did you mean "
        "'counsellor'?)",
    ]
