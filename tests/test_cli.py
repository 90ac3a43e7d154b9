"""The ``assistant`` command as an operator uses it, on the test database."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.cli import build_parser, main
from assistant.config import REPO_ROOT
from assistant.domain import Role, ScopeKind
from assistant.runner import DEMO_CAMPUS
from assistant.schedule import Failure, Scheduler, firings
from assistant.storage import inbox, outbox, repo
from assistant.storage.db import Database
from assistant.storage.models import (
    Firing,
    FiringStatus,
    GridIssue,
    OutboxStatus,
    Priority,
    TelegramAccount,
)

LINK = re.compile(r"^https://t\.me/campus_test_bot\?start=[A-Za-z0-9_-]{32}$")


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch, empty_database_url: str, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "campus_test_bot")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("ASSISTANT_LANGUAGE", raising=False)


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def commands() -> list[list[str]]:
    found: list[list[str]] = [[]]
    parser = build_parser()

    def walk(p: object, prefix: list[str]) -> None:
        for action in getattr(p, "_actions", []):
            choices = getattr(action, "choices", None)
            if isinstance(choices, dict):
                for name, sub in choices.items():
                    found.append([*prefix, name])
                    walk(sub, [*prefix, name])

    walk(parser, [])
    return found


@pytest.mark.parametrize("command", commands(), ids=lambda c: " ".join(c) or "assistant")
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    assert "usage: assistant" in capsys.readouterr().out


def test_python_dash_m_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "org" in result.stdout and "invite" in result.stdout


def test_import_twice_then_invite(tmp_path: Path) -> None:
    code, first = run("org", "import", str(DEMO_CAMPUS))
    assert code == 0, first
    code, again = run("org", "import", str(DEMO_CAMPUS))
    assert code == 0
    assert "Nothing changed" in again and "Nothing changed" not in first

    code, link = run("invite", "2023010001")
    assert code == 0
    assert LINK.match(link.strip())

    target = tmp_path / "b1.csv"
    code, said = run("invite", "--building", "B1", "--csv", str(target))
    assert code == 0
    with target.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert said.startswith(f"{len(rows)} invite(s)")
    assert len(rows) > 10
    assert all(LINK.match(row["link"]) for row in rows)
    assert len({row["link"] for row in rows}) == len(rows)


def test_broken_file_lists_problems_and_imports_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "campus.yaml"
    broken.write_text("colleges:\n  - code: BUS\n    name: 5\n", encoding="utf-8")
    code, said = run("org", "import", str(broken))
    assert code == 1
    assert "campus.yaml:3" in said
    assert "nothing was imported" in capsys.readouterr().err
    code, _ = run("invite", "2023010001")
    assert code == 1


def demo_copy(folder: Path, old: str, new: str) -> Path:
    """The demo campus copied into ``folder`` with one row of its roles.csv changed."""
    folder.mkdir()
    for name in ("demo-campus.yaml", "people.csv"):
        shutil.copy(DEMO_CAMPUS.parent / name, folder / name)
    roles = (DEMO_CAMPUS.parent / "roles.csv").read_bytes()
    assert roles.count(old.encode()) == 1
    (folder / "roles.csv").write_bytes(roles.replace(old.encode(), new.encode()))
    return folder / "demo-campus.yaml"


def test_import_refuses_a_floor_leader_who_is_not_a_party_member(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 郑博嘉 is not a party member; the plan's floor leaders are (学生党员层长).
    campus = demo_copy(
        tmp_path / "campus",
        "2023010004,floor_leader,floor:B1-1",
        "2023010001,floor_leader,floor:B1-1",
    )
    rows = (campus.parent / "roles.csv").read_text(encoding="utf-8").splitlines()
    row = rows.index("2023010001,floor_leader,floor:B1-1") + 1
    rules = (REPO_ROOT / "rules" / "roles.yaml").read_text(encoding="utf-8").splitlines()
    rule = rules.index("  - role: floor_leader") + 1

    code, said = run("org", "import", str(campus))

    assert code == 1
    assert said.splitlines() == [
        f"roles.csv:{row}: 2023010001 郑博嘉 (student) may not be floor_leader:"
        f" rules/roles.yaml:{rule} [floor_leader] when: status == 'party_member'"
    ]
    assert "1 problem(s) found; nothing was imported" in capsys.readouterr().err
    assert run("invite", "2023010001")[0] == 1


def test_check_refuses_a_misspelt_tier_and_the_hours_of_the_policies_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules)
    text = (rules / "escalation.yaml").read_text(encoding="utf-8")
    (rules / "escalation.yaml").write_text(
        text.replace("      - role: branch_secretary\n", "      - role: branch_secretry\n"),
        encoding="utf-8",
    )
    tier = text.splitlines().index("      - role: branch_secretary") + 1
    # A policies file from before the chains became data still sets the hours there.
    (rules / "policies.yaml").write_text(
        "rules:\n  - id: grid-escalate-hours-high\n    policy: grid.escalate_hours.high\n"
        "    when: true\n    value: 2\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("ASSISTANT_RULES_DIR", str(rules))

    code, said = run("check")

    assert code == 1
    assert said.splitlines() == [
        "rules/policies.yaml:3 [grid-escalate-hours-high]: grid.escalate_hours.high is no longer "
        "read: it is now the hours of a chain in escalation.yaml (hours: {high: 2, normal: 24, "
        "low: 72}, or a tier's own hours)",
        f"rules/escalation.yaml:{tier} [grid-chain]: unknown role 'branch_secretry' (did you "
        "mean 'branch_secretary'?)",
    ]
    assert "2 problem(s) found" in capsys.readouterr().err


def test_import_refuses_to_run_on_a_broken_rules_file_of_who_may_hold_a_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules)
    text = (rules / "roles.yaml").read_text(encoding="utf-8")
    (rules / "roles.yaml").write_text(
        text.replace("  - role: floor_leader\n", "  - role: flor_leader\n"), encoding="utf-8"
    )
    line = text.splitlines().index("  - role: floor_leader") + 1
    monkeypatch.setenv("ASSISTANT_RULES_DIR", str(rules))

    code, said = run("org", "import", str(DEMO_CAMPUS))

    assert code == 1
    assert said.splitlines() == [
        f"rules/roles.yaml:{line}: unknown role 'flor_leader' (did you mean 'floor_leader'?)"
    ]
    assert "nothing was imported" in capsys.readouterr().err
    assert run("invite", "2023010001")[0] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["invite", "0000"], "no person with number '0000'"),
        (["invite", "--building", "B1"], "--building needs --csv"),
        (["invite"], "give either a NUMBER or --building"),
        (["invite", "--building", "B9", "--csv", "x.csv"], "no building with code 'B9'"),
    ],
)
def test_invite_mistakes_are_explained(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(*argv)[0] == 1
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_invite_without_a_bot_name_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_USERNAME")
    assert run("invite", "2023010001")[0] == 1
    assert "set TELEGRAM_BOT_USERNAME" in capsys.readouterr().err


def test_db_upgrade() -> None:
    assert run("db", "upgrade") == (0, "database is up to date\n")


def test_inbox_and_outbox_reports(empty_database_url: str) -> None:
    assert run("org", "import", str(DEMO_CAMPUS))[0] == 0

    async def seed() -> None:
        db = Database(empty_database_url)
        now = datetime(2026, 9, 1, tzinfo=UTC)
        try:
            async with db.unit_of_work() as session:
                person = await repo.person_by_number(session, "2023010001")
                assert person is not None
                session.add(
                    TelegramAccount(person_id=person.id, telegram_user_id=555, linked_at=now)
                )
                await inbox.store(session, [{"update_id": 9, "message": {}}], now)
                await inbox.record_failure(
                    session, 9, "Traceback\nKeyError: 'date'", now=now, next_try=lambda _: None
                )
                row = outbox.enqueue(
                    session, 555, "sendMessage", {"text": "hi"}, priority=Priority.BULK, now=now
                )
                await session.flush()
                await outbox.mark_failed(
                    session,
                    row.id,
                    "Forbidden: bot was blocked by the user",
                    status=OutboxStatus.UNREACHABLE,
                    now=now,
                )
        finally:
            await db.dispose()

    asyncio.run(seed())
    code, said = run("inbox")
    assert code == 0
    assert "pending: 0 · done: 0 · parked: 1" in said
    assert "parked 9 chat None ×1: KeyError: 'date'" in said
    code, said = run("inbox", "--retry", "9")
    assert said.startswith("1 update(s) queued again\npending: 1 · done: 0 · parked: 0")
    code, said = run("outbox")
    assert "unreachable: 1" in said
    assert "unreachable 555 郑博嘉 (2023010001): Forbidden: bot was blocked by the user" in said


def test_failed_firings_are_listed_and_re_armed(
    empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    due = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)

    async def broken(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
        raise RuntimeError("the template is gone")

    async def nobody(session: AsyncSession, failed: Sequence[Failure], now: datetime) -> None:
        pass

    async def seed() -> None:
        db = Database(empty_database_url)
        try:
            async with db.unit_of_work() as session:
                await firings.plan(
                    session,
                    [
                        {"key": "note:a", "kind": "broken", "due_at": due},
                        {"key": "note:b", "kind": "retired", "due_at": due},
                        {"key": "note:c", "kind": "broken", "due_at": due + timedelta(days=1)},
                    ],
                    now=due,
                )
            # The real scheduler fails them: one on its only try, one of a kind nobody handles.
            scheduler = Scheduler(
                db, lambda: due, {"broken": broken}, lambda: None, report=nobody, max_attempts=1
            )
            await scheduler.run_due()
        finally:
            await db.dispose()

    async def stored() -> dict[str, Firing]:
        db = Database(empty_database_url)
        try:
            async with db.unit_of_work() as session:
                return {row.key: row for row in await session.scalars(select(Firing))}
        finally:
            await db.dispose()

    assert run("db", "upgrade")[0] == 0
    asyncio.run(seed())
    code, said = run("firings")
    assert code == 0
    assert said == (
        "pending: 1 · fired: 0 · skipped: 0 · failed: 2\n"
        "failed note:a (broken) due 2026-09-01 16:00+08:00 ×1: RuntimeError: the template is gone\n"
        "failed note:b (retired) due 2026-09-01 16:00+08:00 ×1: "
        "no handler for firings of kind 'retired'\n"
    )
    # A key that is not a failed firing: told so, and nothing changes.
    assert run("firings", "--retry", "note:a", "note:c")[0] == 1
    assert "not a failed firing: note:c" in capsys.readouterr().err
    assert (asyncio.run(stored()))["note:a"].status is FiringStatus.FAILED

    before = datetime.now(UTC)
    code, said = run("firings", "--retry", "note:a")
    assert code == 0
    assert said.startswith(
        "1 firing(s) armed again\npending: 2 · fired: 0 · skipped: 0 · failed: 1"
    )
    assert "note:a" not in said.split("\n", 2)[2]
    again = (asyncio.run(stored()))["note:a"]
    assert (again.status, again.attempts, again.due_at) == (FiringStatus.PENDING, 0, due)
    assert again.next_attempt_at >= before

    code, said = run("firings", "--retry", "all")
    assert said == "1 firing(s) armed again\npending: 3 · fired: 0 · skipped: 0 · failed: 0\n"
    assert (asyncio.run(stored()))["note:b"].status is FiringStatus.PENDING


def test_explain_replays_a_routing_decision(empty_database_url: str) -> None:
    assert run("org", "import", str(DEMO_CAMPUS))[0] == 0
    subject = {
        "category": "safety",
        "urgency": "high",
        "private": False,
        "anonymous": False,
        "building": "B1",
        "floor": 1,
        "community": "C1",
        "college": "BUS",
        "reporter_status": "student",
        "reporter_roles": [],
        "hour": 10,
        "weekday": 2,
        "is_holiday": False,
    }

    async def seed() -> None:
        db = Database(empty_database_url)
        now = datetime(2026, 9, 1, tzinfo=UTC)
        try:
            async with db.unit_of_work() as session:
                person = await repo.person_by_number(session, "2023010001")
                assert person is not None and person.dorm_room_id is not None
                place = await repo.place_of_room(session, person.dorm_room_id)
                assert place is not None
                session.add(
                    GridIssue(
                        reporter_person_id=person.id,
                        category="safety",
                        urgency="high",
                        description="smoke",
                        location="B1-101",
                        floor_id=place.floor_id,
                        assignee_role=Role.FLOOR_LEADER,
                        assignee_scope_kind=ScopeKind.FLOOR,
                        assignee_scope_id=place.floor_id,
                        routed_by="safety-urgent",
                        routing_subject=subject,
                        created_at=now,
                        updated_at=now,
                    )
                )
        finally:
            await db.dispose()

    asyncio.run(seed())
    code, said = run("explain", "1")
    assert code == 0
    assert said.startswith("#1: routed by 'safety-urgent' to floor_leader\n")
    lines = said.splitlines()
    assert re.search(r"由规则 'safety-urgent'（rules/routing.yaml:\d+）决定$", lines[1])
    assert re.fullmatch(r"  规则 'student-in-need'（rules/routing.yaml:\d+）：不匹配", lines[2])
    chain = lines.index("上报链条：")
    assert re.match(r"  规则 'safety-urgent'（rules/routing.yaml:\d+）：匹配", lines[chain - 1])
    # The chain it climbs, and no move yet: nothing of it is past its deadline.
    assert re.search(r"由规则 'grid-chain'（rules/escalation.yaml:\d+）决定$", lines[chain + 1])
    assert len(lines) == chain + 3
    assert "note:" not in said
    assert run("explain", "99")[0] == 1
