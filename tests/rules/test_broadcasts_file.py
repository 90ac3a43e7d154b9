"""Scheduled broadcasts, rules/broadcasts.yaml: the shipped file's moments, broken files refused
by `assistant check` and at start with file, line, id and a suggestion, and a broadcast due while
the bot was down sent once (or skipped, by its policy) however often the bot starts again."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from assistant import directory
from assistant.app import StartupError, load_files, running
from assistant.cli import main
from assistant.config import REPO_ROOT, load_settings
from assistant.domain import PersonStatus, Role, ScopeKind
from assistant.rules import RulesError, load_rules
from assistant.runner import DEMO_CAMPUS
from assistant.sandbox import FakeTelegram
from assistant.services.timed import missing_templates
from assistant.storage import repo
from assistant.storage.db import Database
from assistant.storage.models import Broadcast, Firing, FiringStatus, GroupChat, OutboxMessage
from assistant.texts import Texts
from tests.bot.conftest import Clock, make_application
from tests.rules.helpers import write_rules

CAMPUS = ZoneInfo("Asia/Shanghai")

GOOD = """
    broadcasts:
      - id: floor-check
        name: {zh: 楼层检查, en: Floor check}
        at: {days: [1], time: "20:00"}
        audience:
          scope_kind: floor
          scope: B1-3
          roles: [dorm_head]
          status: [party_member]
          channels: [people, groups]
        template: broadcast/national_day_safety
        missed: skip
"""


def test_the_shipped_safety_reminder_goes_to_every_group_the_day_before_national_day() -> None:
    [scheduled] = load_rules(REPO_ROOT / "rules").broadcasts.values()
    assert scheduled.id == "national-day-safety"
    assert (scheduled.audience.scope_kind, scheduled.audience.channels) == (
        ScopeKind.SCHOOL,
        ("groups",),
    )
    moments = scheduled.at.times(
        load_rules(REPO_ROOT / "rules").calendar,
        datetime(2026, 9, 1, tzinfo=UTC),
        datetime(2027, 12, 31, tzinfo=UTC),
        CAMPUS,
    )
    assert [m.astimezone(CAMPUS).strftime("%Y-%m-%d %H:%M") for m in moments] == [
        "2026-09-30 10:00",
        "2027-09-30 10:00",
    ]


def test_a_good_file_reads_every_field(tmp_path: Path) -> None:
    scheduled = load_rules(write_rules(tmp_path, broadcasts=GOOD)).broadcasts["floor-check"]
    audience = scheduled.audience
    assert (audience.scope_kind, audience.scope) == (ScopeKind.FLOOR, "B1-3")
    assert audience.roles == (Role.DORM_HEAD,) and audience.statuses == (PersonStatus.PARTY_MEMBER,)
    assert audience.channels == ("people", "groups")
    assert (scheduled.file, scheduled.line) == ("rules/broadcasts.yaml", 2)
    moments = scheduled.at.times(
        load_rules(REPO_ROOT / "rules").calendar,
        datetime(2026, 9, 15, tzinfo=UTC),
        datetime(2026, 11, 15, tzinfo=UTC),
        CAMPUS,
    )
    assert [m.astimezone(CAMPUS).strftime("%m-%d %H:%M") for m in moments] == [
        "10-01 20:00",
        "11-01 20:00",
    ]


@pytest.mark.parametrize(
    ("change", "line", "says", "suggestion"),
    [
        (("    audience:", "    audeince:"), 5, "unknown key 'audeince'", "audience"),
        (("scope_kind: floor", "scope_kind: flor"), 6, "scope_kind is 'flor'", "floor"),
        (("scope: B1-3", "scope: B1"), 7, "a floor is named by its code, like B1-3", None),
        (("roles: [dorm_head]", "roles: [dorm_haed]"), 8, "unknown role 'dorm_haed'", "dorm_head"),
        (("status: [party_member]", "status: [party]"), 9, "unknown status 'party'", None),
        (("[people, groups]", "[people, group]"), 10, "unknown channel 'group'", "groups"),
        (
            ("channels: [people, groups]", "chanels: [people]"),
            10,
            "unknown key 'chanels'",
            "channels",
        ),
        (("missed: skip", "missed: skipp"), 12, "missed is 'skipp'", "skip"),
        (('time: "20:00"', 'time: "24:00"'), 4, "time is '24:00', not a time in quotes", None),
        (('{days: [1], time: "20:00"}', '{cron: "0 9 * * mon-fryday"}'), 4, "cron is", "0 9 * * 1"),
        (
            ("scope_kind: floor\n          scope: B1-3", "scope_kind: school\n          scope: B1"),
            7,
            "the whole school has no scope",
            None,
        ),
        (("template: broadcast/", "template: Broadcast/"), 11, "template must be", None),
    ],
)
def test_a_broken_broadcast_is_refused_with_line_id_and_hint(
    tmp_path: Path, change: tuple[str, str], line: int, says: str, suggestion: str | None
) -> None:
    assert change[0] in GOOD
    with pytest.raises(RulesError) as caught:
        load_rules(write_rules(tmp_path, broadcasts=GOOD.replace(change[0], change[1])))
    problems = caught.value.problems
    assert len(problems) >= 1, "\n".join(map(str, problems))
    found = problems[0]
    assert found.file == "rules/broadcasts.yaml"
    assert (found.line, found.rule_id) == (line, "floor-check"), str(found)
    assert says in found.message, str(found)
    assert found.suggestion == suggestion


def test_an_id_used_twice_and_a_file_of_the_wrong_shape(tmp_path: Path) -> None:
    twice = GOOD + GOOD.split("broadcasts:\n")[1]
    with pytest.raises(RulesError) as caught:
        load_rules(write_rules(tmp_path, broadcasts=twice))
    assert [str(p) for p in caught.value.problems] == [
        "rules/broadcasts.yaml:13 [floor-check]: id 'floor-check' is used twice (first on line 2)"
    ]
    with pytest.raises(RulesError) as caught:
        load_rules(write_rules(tmp_path, broadcasts="broadcast: []\n"))
    assert [str(p) for p in caught.value.problems] == [
        "rules/broadcasts.yaml:1: expected one key, broadcasts: a list of broadcasts"
    ]


def _folder(tmp_path: Path, broadcasts: str) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules, dirs_exist_ok=True)
    write_rules(tmp_path, broadcasts=broadcasts)
    return rules


def test_assistant_check_and_the_start_refuse_a_broken_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = _folder(tmp_path, GOOD.replace("scope_kind: floor", "scope_kind: flor"))
    expected = (
        "rules/broadcasts.yaml:6 [floor-check]: scope_kind is 'flor' (one of floor, building, "
        "community, college, grid, school) (did you mean 'floor'?)"
    )
    monkeypatch.setenv("ASSISTANT_RULES_DIR", str(rules))
    out = io.StringIO()
    assert main(["check"], out=out) != 0
    assert expected in out.getvalue().splitlines()
    settings = load_settings(rules_dir=rules)
    with pytest.raises(StartupError) as caught:
        load_files(settings, Texts(settings.conversations_dir))
    assert caught.value.problems == [expected]


def test_a_missing_template_is_named(tmp_path: Path) -> None:
    rules = load_rules(write_rules(tmp_path, broadcasts=GOOD.replace("national_day", "nothing")))
    assert missing_templates(rules.broadcasts.values(), Texts(REPO_ROOT / "conversations")) == [
        "rules/broadcasts.yaml:2 [floor-check]: no template 'broadcast/nothing_safety' in "
        f"conversations/templates/{language}/"
        for language in ("zh-CN", "en")
    ]
    shipped = load_rules(REPO_ROOT / "rules")
    assert missing_templates(shipped.broadcasts.values(), Texts(REPO_ROOT / "conversations")) == []


# 30 September 2026 10:00 on campus is 02:00 UTC.
DUE = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
TWICE = """
    broadcasts:
      - id: national-day-safety
        name: {zh: 国庆假期安全提醒, en: National Day holiday safety reminder}
        at: {cron: "0 10 30 9 *"}
        audience: {scope_kind: school, channels: [groups]}
        template: broadcast/national_day_safety
        missed: late_once
      - id: floor-3-safety
        name: {zh: 三楼安全提醒, en: Floor 3 safety reminder}
        at: {cron: "0 10 30 9 *"}
        audience: {scope_kind: floor, scope: B1-3, channels: [groups]}
        template: broadcast/national_day_safety
        missed: skip
"""


async def test_a_broadcast_due_while_down_is_sent_once_or_skipped_by_policy(
    db: Database, tmp_path: Path
) -> None:
    async with db.unit_of_work() as session:
        await directory.import_org(session, directory.load_org(DEMO_CAMPUS))
    tg, clock = FakeTelegram(), Clock(DUE - timedelta(days=1))
    rules = _folder(tmp_path, TWICE)
    leader = tg.add_user("高艳芳", language_code="zh-hans")
    group = await tg.add_group("1号楼3层", [leader])
    async with db.unit_of_work() as session:
        floor_leader = await repo.person_by_number(session, "2023020001")
        place = await repo.building_by_code(session, "B1")
        assert floor_leader is not None and place is not None
        floor = await repo.floor_by_number(session, place.id, 3)
        assert floor is not None
        session.add(
            GroupChat(
                chat_id=group.id,
                title=group.title or "",
                scope_kind=ScopeKind.FLOOR,
                scope_id=floor.id,
                bound_by_person_id=floor_leader.id,
                bound_at=clock(),
            )
        )
    async with running(make_application(db, tg, clock, rules_dir=rules)) as edge:
        await edge.ticker.run_once()
    # Down from the day before until three hours after both were due; then two restarts.
    clock.advance(timedelta(days=1, hours=3))

    def heard() -> int:
        return sum("国庆假期安全提醒" in (m.text or "") for m in tg.messages(group.id))

    for _ in range(2):
        async with running(make_application(db, tg, clock, rules_dir=rules)) as edge:
            await edge.scheduler.run_due()
            await edge.ticker.run_once()
            await edge.scheduler.run_due()
            await tg.wait_until(lambda: heard() >= 1)
    assert heard() == 1, "sent once, not twice"
    async with db.unit_of_work() as session:
        statuses = {
            f.key.split(":")[1]: f.status
            for f in await session.scalars(select(Firing).where(Firing.kind == "broadcast"))
        }
        sent = list(await session.scalars(select(Broadcast)))
        rows = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.ref == "bc:1")))
    assert statuses == {
        "national-day-safety": FiringStatus.FIRED,
        "floor-3-safety": FiringStatus.SKIPPED,
    }
    assert [(b.source, b.sender_person_id, b.total) for b in sent] == [
        ("national-day-safety", None, 1)
    ]
    assert [row.chat_id for row in rows] == [group.id]
